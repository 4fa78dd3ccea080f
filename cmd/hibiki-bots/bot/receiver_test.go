package bot

import (
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// sentPackets plays frames ticks of the 320x180 clip through a video
// sender and returns the packets with their send times.
func sentPackets(t *testing.T, frames int) ([]rtp.Packet, []time.Time) {
	t.Helper()
	clips, err := media.Load()
	if err != nil {
		t.Fatal(err)
	}
	v := newVideoSender(clips.Video[:1], []string{""}, "cam", "s", discardLogger())
	w := bindFake(t, v.layers[0].track, 1)
	t0 := time.Unix(1000, 0)
	v.start = t0
	var at []time.Time
	for i := range frames {
		now := t0.Add(time.Duration(i) * v.interval)
		before := len(w.pkts)
		v.tick(now)
		for range len(w.pkts) - before {
			at = append(at, now)
		}
	}
	return w.pkts, at
}

func TestRemoteTrackVideo(t *testing.T) {
	pkts, at := sentPackets(t, 130)
	// Index of the first packet of frame 10.
	lossIdx := -1
	frameNo := -1
	for i := range pkts {
		if i == 0 || pkts[i].Timestamp != pkts[i-1].Timestamp {
			frameNo++
		}
		if frameNo == 10 {
			lossIdx = i
			break
		}
	}
	for _, tc := range []struct {
		name        string
		drop        map[int]bool
		pauseAt     int // packet index where the track gets muted, -1 never
		gapAt       int // packet index before which arrival jumps by 2 s, -1 never
		wantFreezes int
		wantPLI     bool
		hide        bool // pause by the bot's own setVideoSize 0x0 instead of a mute
	}{
		{"clean", nil, -1, -1, 0, false, false},
		// Nothing is decodable from the loss to the keyframe 50 frames later:
		// 1.7 s without a picture is a freeze, and the decoder asks for help.
		{"loss until next keyframe", map[int]bool{lossIdx: true}, -1, -1, 1, true, false},
		{"2 s gap is a freeze", nil, -1, lossIdx, 1, false, false},
		{"2 s gap while muted is not", nil, lossIdx - 1, lossIdx, 0, false, false},
		{"2 s gap while hidden is not", nil, lossIdx - 1, lossIdx, 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRemoteTrack("TR", "PA", webrtc.RTPCodecTypeVideo.String(), "0", 1, 90000, at[0])
			plis := 0
			shift := time.Duration(0)
			for i := range pkts {
				if i == tc.pauseAt && tc.hide {
					rt.setHidden(true)
				} else if i == tc.pauseAt {
					rt.setPaused(true, false)
				}
				if i == tc.gapAt {
					shift = 2 * time.Second
				}
				if tc.drop[i] {
					continue
				}
				raw, _ := pkts[i].Marshal()
				if rt.handle(&pkts[i], len(raw), at[i].Add(shift)).pli {
					plis++
				}
			}
			s := rt.snapshot(at[len(at)-1].Add(shift))
			if s.Freezes != tc.wantFreezes {
				t.Errorf("freezes %d, want %d", s.Freezes, tc.wantFreezes)
			}
			if (plis > 0) != tc.wantPLI || s.PLIsSent != uint64(plis) {
				t.Errorf("PLIs %d (stats %d), want some: %v", plis, s.PLIsSent, tc.wantPLI)
			}
			if !s.FirstFrameKeyframe || s.Width != 320 || s.Height != 180 || s.Keyframes != 3 {
				t.Errorf("first key %v, %dx%d, %d keyframes", s.FirstFrameKeyframe, s.Width, s.Height, s.Keyframes)
			}
			lost := len(tc.drop)
			if s.Lost != int64(lost) || s.Packets != uint64(len(pkts)-lost) {
				t.Errorf("lost %d of %d received, want %d", s.Lost, s.Packets, lost)
			}
			if lost == 0 && (s.Frames != 130 || s.Decodable != 130 || s.Incomplete != 0) {
				t.Errorf("frames %d decodable %d incomplete %d, want 130/130/0", s.Frames, s.Decodable, s.Incomplete)
			}
			if lost > 0 {
				// Frames from the loss to the keyframe at 60 cannot be shown. A
				// one-packet frame lost whole is not "incomplete": it is missing.
				if s.Incomplete > 1 || s.Decodable != 130-50 {
					t.Errorf("incomplete %d decodable %d, want <= 1 and 80", s.Incomplete, s.Decodable)
				}
			}
		})
	}
}

func TestRemoteTrackAudio(t *testing.T) {
	rt := newRemoteTrack("TR", "PA", webrtc.RTPCodecTypeAudio.String(), "1", 9, 48000, time.Unix(0, 0))
	rt.levelID = 3
	t0 := time.Unix(0, int64(40*time.Millisecond))
	for i := range 50 {
		p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(65500 + i), Timestamp: uint32(i * 960)}, Payload: []byte{1, 2}}
		level := byte(30)
		if i%2 == 0 {
			level |= 0x80
		}
		if err := p.Header.SetExtension(3, []byte{level}); err != nil {
			t.Fatal(err)
		}
		if i == 10 {
			continue // lost
		}
		rt.handle(&p, 20, t0.Add(time.Duration(i)*20*time.Millisecond))
	}
	s := rt.snapshot(t0.Add(time.Second))
	if s.Packets != 49 || s.Lost != 1 || s.Frames != 49 || s.VoicedPackets != 24 || s.AudioLevel != 30 {
		t.Errorf("stats %+v", s)
	}
	if s.FirstFrameDelay != 40*time.Millisecond || !s.FirstFrameKeyframe || s.Jitter > time.Millisecond {
		t.Errorf("first frame after %v, key %v, jitter %v", s.FirstFrameDelay, s.FirstFrameKeyframe, s.Jitter)
	}
}
