package bot

import (
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
)

func TestVideoPlayerLoopsAndJumps(t *testing.T) {
	clip := &media.VideoClip{Frames: make([]media.VideoFrame, 10), Keyframes: []int{0, 4, 8}}
	p := newVideoPlayer(clip)
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var got []int
	for range 12 {
		got = append(got, p.next(at(0)))
	}
	want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("plain playback %v, want %v", got, want)
		}
	}
	// At index 2: a request jumps to 4 on the very next tick.
	if !p.requestKeyframe(at(1000)) {
		t.Fatal("first request refused")
	}
	if idx := p.next(at(1000)); idx != 4 {
		t.Fatalf("after request sent %d, want keyframe 4", idx)
	}
	if p.requestKeyframe(at(1100)) {
		t.Fatal("request within 200 ms accepted")
	}
	if idx := p.next(at(1100)); idx != 5 {
		t.Fatalf("refused request still jumped: %d", idx)
	}
	// At 9 the next keyframe wraps to 0.
	for p.pos != 9 {
		p.next(at(1100))
	}
	p.requestKeyframe(at(1300))
	if idx := p.next(at(1300)); idx != 0 {
		t.Fatalf("wrap jump sent %d, want 0", idx)
	}
	// Sitting on a keyframe already: no skip.
	p.pos = 8
	p.requestKeyframe(at(2000))
	if idx := p.next(at(2000)); idx != 8 {
		t.Fatalf("on keyframe sent %d, want 8", idx)
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
