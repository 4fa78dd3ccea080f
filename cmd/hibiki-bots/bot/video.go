package bot

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// rtpMTU is the payload budget per packet, below the path MTU with room for
// SRTP, header extensions and TURN.
const rtpMTU = 1200

// videoLayer is one RTP stream of the camera: a clip, its track and its
// packetizer state.
type videoLayer struct {
	rid       string
	clip      *media.VideoClip
	track     *rtpTrack
	payloader codecs.VP8Payloader
	seq       uint16
	active    atomic.Bool
	// stalled simulates an uplink that cannot carry this layer: nothing
	// is sent whatever the server asks, as when a browser's encoder drops
	// a layer under CPU or bandwidth pressure.
	stalled   atomic.Bool
	packets   atomic.Uint64
	bytes     atomic.Uint64
	frames    atomic.Uint64
	keyframes atomic.Uint64
}

// videoSender plays the camera: every tick it sends the same clip index on
// all active layers with one RTP timestamp, as a browser's simulcast
// encoder does with one captured frame.
type videoSender struct {
	layers   []*videoLayer
	interval time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	player *videoPlayer
	start  time.Time
	tsBase uint32
	slot   int64 // frame slot of the last tick, -1 before the first
	tsStep uint32

	muted atomic.Bool
	plis  atomic.Uint64
	firs  atomic.Uint64
	jumps atomic.Uint64
}

func newVideoSender(clips []*media.VideoClip, rids []string, trackID, streamID string, log *slog.Logger) *videoSender {
	v := &videoSender{log: log, player: newVideoPlayer(clips[0]), tsBase: rand.Uint32(), slot: -1}
	rate := clips[0].FrameRate
	if rate <= 0 {
		rate = 30
	}
	v.interval = time.Second / time.Duration(rate)
	v.tsStep = uint32(90000 / rate)
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	for i, clip := range clips {
		l := &videoLayer{
			rid: rids[i], clip: clip,
			track:     newRTPTrack(codec, trackID, streamID, rids[i]),
			payloader: codecs.VP8Payloader{EnablePictureID: true},
			seq:       uint16(rand.Uint32()),
		}
		l.active.Store(true)
		v.layers = append(v.layers, l)
	}
	return v
}

// run ticks until ctx ends.
func (v *videoSender) run(ctx context.Context) {
	t := time.NewTicker(v.interval)
	defer t.Stop()
	v.mu.Lock()
	v.start = time.Now()
	v.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			v.tick(now)
		}
	}
}

func (v *videoSender) tick(now time.Time) {
	if v.muted.Load() {
		return
	}
	v.mu.Lock()
	idx, jumped := v.player.next(now)
	if jumped {
		v.jumps.Add(1)
		v.log.Debug("keyframe jump", "frame", idx)
	}
	// The timestamp is the wall clock rounded to the frame grid, so it keeps
	// increasing across clip loops and keyframe jumps, a late tick does not
	// bunch frames, and steps are exact multiples of the frame duration.
	slot := int64((now.Sub(v.start) + v.interval/2) / v.interval)
	if slot <= v.slot {
		slot = v.slot + 1
	}
	v.slot = slot
	ts := v.tsBase + uint32(slot)*v.tsStep
	v.mu.Unlock()
	for _, l := range v.layers {
		if l.active.Load() && !l.stalled.Load() {
			v.sendFrame(l, l.clip.Frames[idx], ts)
		}
	}
}

func (v *videoSender) sendFrame(l *videoLayer, f media.VideoFrame, ts uint32) {
	payloads := l.payloader.Payload(rtpMTU, f.Data)
	for i, p := range payloads {
		h := rtp.Header{SequenceNumber: l.seq, Timestamp: ts, Marker: i == len(payloads)-1}
		sent, err := l.track.write(&h, p, audioLevelNone)
		if err != nil {
			v.log.Debug("write video", "rid", l.rid, "err", err)
		}
		if !sent {
			return // not negotiated yet: do not burn sequence numbers
		}
		l.seq++
		l.packets.Add(1)
		l.bytes.Add(uint64(h.MarshalSize() + len(p)))
	}
	l.frames.Add(1)
	if f.Keyframe {
		l.keyframes.Add(1)
	}
}

// requestKeyframe handles a PLI or FIR for any layer.
func (v *videoSender) requestKeyframe() {
	v.mu.Lock()
	v.player.requestKeyframe()
	v.mu.Unlock()
}

// forceKeyframe jumps to a keyframe on the next tick regardless of the rate
// limit (after unmute or a layer being re-enabled).
func (v *videoSender) forceKeyframe() {
	v.mu.Lock()
	v.player.forceKeyframe()
	v.mu.Unlock()
}

func (v *videoSender) setMuted(m bool) {
	v.muted.Store(m)
	if !m {
		v.forceKeyframe()
	}
}

// setActive applies a layersChanged event: layers nobody needs stop
// sending; a layer that comes back starts on a keyframe.
func (v *videoSender) setActive(active []bool) {
	if len(v.layers) < 2 {
		return // without simulcast the one stream always flows
	}
	restarted := false
	for i, l := range v.layers {
		on := i >= len(active) || active[i]
		if on && !l.active.Load() {
			restarted = true
		}
		l.active.Store(on)
	}
	if restarted {
		v.forceKeyframe()
	}
}

// readRTCP drains one layer's RTCP (the interceptors need it read) and acts
// on keyframe requests.
func (v *videoSender) readRTCP(rid string, read func() ([]rtcp.Packet, error)) {
	for {
		pkts, err := read()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication:
				v.plis.Add(1)
				v.log.Debug("keyframe request", "type", "PLI", "rid", rid)
				v.requestKeyframe()
			case *rtcp.FullIntraRequest:
				v.firs.Add(1)
				v.log.Debug("keyframe request", "type", "FIR", "rid", rid)
				v.requestKeyframe()
			}
		}
	}
}

func (v *videoSender) stats() []LayerStats {
	out := make([]LayerStats, len(v.layers))
	for i, l := range v.layers {
		out[i] = LayerStats{
			RID: l.rid, Width: l.clip.Width, Height: l.clip.Height, Active: l.active.Load(),
			Packets: l.packets.Load(), Bytes: l.bytes.Load(), Frames: l.frames.Load(), Keyframes: l.keyframes.Load(),
		}
	}
	return out
}
