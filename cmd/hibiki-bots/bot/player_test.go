package bot

import (
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
)

func TestVideoPlayerLoopsAndJumps(t *testing.T) {
	clip := &media.VideoClip{Frames: make([]media.VideoFrame, 10), Keyframes: []int{0, 4, 8}}
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		ms      int
		request bool // a PLI arrives before this tick
		force   bool
		want    int
		jumped  bool
	}
	for _, tc := range []struct {
		name  string
		start int
		steps []step
	}{
		{"plain playback loops", 7, []step{{0, false, false, 7, false}, {33, false, false, 8, false}, {66, false, false, 9, false}, {100, false, false, 0, false}, {133, false, false, 1, false}}},
		{"request jumps on the next tick", 2, []step{{0, true, false, 4, true}, {33, false, false, 5, false}}},
		{"jump wraps to the clip start", 9, []step{{0, true, false, 0, true}}},
		{"on a keyframe already: no skip", 8, []step{{0, true, false, 8, false}, {33, false, false, 9, false}}},
		{"second request waits out 200 ms", 1, []step{
			{0, true, false, 4, true}, {33, true, false, 5, false}, {166, false, false, 6, false}, {200, false, false, 8, true}, {233, false, false, 9, false},
		}},
		{"a natural keyframe serves a pending request", 2, []step{
			{0, true, false, 4, true}, {33, false, false, 5, false}, {66, true, false, 6, false}, {100, false, false, 7, false}, {133, false, false, 8, false}, {233, false, false, 9, false},
		}},
		{"force ignores the rate limit", 1, []step{{0, true, false, 4, true}, {33, false, true, 8, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newVideoPlayer(clip)
			p.pos = tc.start
			for i, s := range tc.steps {
				if s.request {
					p.requestKeyframe()
				}
				if s.force {
					p.forceKeyframe()
				}
				idx, jumped := p.next(at(s.ms))
				if idx != s.want || jumped != s.jumped {
					t.Fatalf("step %d at %d ms: sent %d jumped %v, want %d %v", i, s.ms, idx, jumped, s.want, s.jumped)
				}
			}
		})
	}
}

func TestAudioPlayerSchedule(t *testing.T) {
	frames := make([]media.AudioFrame, 10)
	for i := range frames {
		frames[i] = media.AudioFrame{Level: uint8(10 + i), Voiced: i < 6}
	}
	clip := &media.AudioClip{Frames: frames, Speech: [2]int{0, 6}, Silence: [2]int{6, 10}}
	t.Run("natural", func(t *testing.T) {
		p := newAudioPlayer(clip, nil)
		for i := range 25 {
			f, v := p.next(0)
			if f.Level != uint8(10+i%10) || v != (i%10 < 6) {
				t.Fatalf("frame %d: level %d voiced %v", i, f.Level, v)
			}
		}
	})
	t.Run("scheduled", func(t *testing.T) {
		p := newAudioPlayer(clip, func(d time.Duration) bool { return d < time.Second })
		for i := range 8 { // loops inside the speech section
			f, v := p.next(0)
			if !v || f.Level != uint8(10+i%6) {
				t.Fatalf("speech frame %d: level %d voiced %v", i, f.Level, v)
			}
		}
		for i := range 6 {
			f, v := p.next(2 * time.Second)
			if v || f.Level != uint8(16+i%4) {
				t.Fatalf("silence frame %d: level %d voiced %v", i, f.Level, v)
			}
		}
	})
}

func TestLevelByte(t *testing.T) {
	for _, tc := range []struct {
		level  uint8
		voiced bool
		want   int
	}{{0, true, 0x80}, {127, false, 127}, {30, true, 0x80 | 30}, {200, false, 200 & 0x7f}} {
		if got := levelByte(tc.level, tc.voiced); got != tc.want {
			t.Errorf("levelByte(%d,%v) = %#x, want %#x", tc.level, tc.voiced, got, tc.want)
		}
	}
}
