package media

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLoadClips(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	sizes := [3][2]int{{320, 180}, {640, 360}, {1280, 720}}
	for i, v := range c.Video {
		if v.Width != sizes[i][0] || v.Height != sizes[i][1] {
			t.Errorf("layer %d: %dx%d, want %v", i, v.Width, v.Height, sizes[i])
		}
		if v.FrameRate != 30 {
			t.Errorf("layer %d: %d fps, want 30", i, v.FrameRate)
		}
		if len(v.Frames) != 300 {
			t.Errorf("layer %d: %d frames, want 300", i, len(v.Frames))
		}
		for k, idx := range v.Keyframes {
			if idx != k*60 {
				t.Errorf("layer %d: keyframe %d at frame %d, want %d", i, k, idx, k*60)
			}
		}
		if len(v.Keyframes) != 5 {
			t.Errorf("layer %d: %d keyframes, want 5", i, len(v.Keyframes))
		}
		key, w, h := VP8FrameInfo(v.Frames[0].Data)
		if !key || w != sizes[i][0] || h != sizes[i][1] {
			t.Errorf("layer %d: first frame key=%v %dx%d", i, key, w, h)
		}
	}
	a := c.Audio
	if n := len(a.Frames); n < 500 || n > 501 {
		t.Errorf("%d audio frames, want 500", n)
	}
	if a.Speech != [2]int{0, 300} || a.Silence[0] != 300 || a.Silence[1] < 500 {
		t.Errorf("sections speech %v silence %v", a.Speech, a.Silence)
	}
	loud := 0
	for _, f := range a.Frames[a.Speech[0]:a.Speech[1]] {
		if f.Level < 40 {
			loud++
		}
	}
	if loud < 100 {
		t.Errorf("only %d loud frames in the speech section", loud)
	}
	for i, f := range a.Frames[a.Silence[0]:a.Silence[1]] {
		if f.Level < 70 {
			t.Errorf("silence frame %d has level %d", i, f.Level)
		}
	}
}

func TestNextKeyframe(t *testing.T) {
	c := &VideoClip{Keyframes: []int{0, 60, 120}}
	for _, tc := range []struct{ in, want int }{{0, 0}, {1, 60}, {60, 60}, {61, 120}, {121, 0}} {
		if got := c.NextKeyframe(tc.in); got != tc.want {
			t.Errorf("NextKeyframe(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestVP8FrameInfo(t *testing.T) {
	key := []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00}
	for _, tc := range []struct {
		name string
		in   []byte
		key  bool
		w, h int
	}{
		{"keyframe", key, true, 320, 180},
		{"interframe", []byte{0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false, 0, 0},
		{"short", key[:5], false, 0, 0},
		{"bad start code", append([]byte{0x50, 0x42, 0x00, 0x9d, 0x02}, key[5:]...), false, 0, 0},
		{"empty", nil, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, w, h := VP8FrameInfo(tc.in)
			if k != tc.key || w != tc.w || h != tc.h {
				t.Errorf("got %v %dx%d, want %v %dx%d", k, w, h, tc.key, tc.w, tc.h)
			}
		})
	}
}
