package bot

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// audioFrameDuration is one Opus packet of the clip.
const audioFrameDuration = 20 * time.Millisecond

// audioSender plays the Opus clip, one packet per 20 ms, each with its RFC
// 6464 level from the clip's table.
type audioSender struct {
	track  *rtpTrack
	player *audioPlayer
	log    *slog.Logger
	seq    uint16
	tsBase uint32
	voiced bool

	muted   atomic.Bool
	packets atomic.Uint64
	bytes   atomic.Uint64
}

func newAudioSender(clip *media.AudioClip, speaking func(time.Duration) bool, trackID, streamID string, log *slog.Logger) *audioSender {
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	return &audioSender{
		track:  newRTPTrack(codec, trackID, streamID, ""),
		player: newAudioPlayer(clip, speaking),
		log:    log,
		seq:    uint16(rand.Uint32()),
		tsBase: rand.Uint32(),
	}
}

// run sends until ctx ends. Only this goroutine touches the player and the
// sequence state.
func (a *audioSender) run(ctx context.Context) {
	t := time.NewTicker(audioFrameDuration)
	defer t.Stop()
	start := time.Now()
	lastN := int64(-1)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			// The frame number follows the wall clock so timestamps stay
			// true to time even when a tick comes late.
			n := int64(now.Sub(start) / audioFrameDuration)
			if n == lastN {
				continue
			}
			lastN = n
			a.send(now.Sub(start), a.tsBase+uint32(n)*media.AudioFrameSamples)
		}
	}
}

func (a *audioSender) send(elapsed time.Duration, ts uint32) {
	f, voiced := a.player.next(elapsed)
	if a.muted.Load() {
		a.voiced = false
		return
	}
	// The marker bit starts a talkspurt (RFC 3551 section 4.1).
	h := rtp.Header{SequenceNumber: a.seq, Timestamp: ts, Marker: voiced && !a.voiced}
	a.voiced = voiced
	sent, err := a.track.write(&h, f.Data, levelByte(f.Level, voiced))
	if err != nil {
		a.log.Debug("write audio", "err", err)
	}
	if !sent {
		return
	}
	a.seq++
	a.packets.Add(1)
	a.bytes.Add(uint64(h.MarshalSize() + len(f.Data)))
}

// readRTCP drains the sender's RTCP so the interceptors (reports, NACK)
// keep working.
func (a *audioSender) readRTCP(read func() ([]rtcp.Packet, error)) {
	for {
		if _, err := read(); err != nil {
			return
		}
	}
}

func (a *audioSender) stats() []LayerStats {
	n := a.packets.Load()
	return []LayerStats{{Active: !a.muted.Load(), Packets: n, Bytes: a.bytes.Load(), Frames: n}}
}
