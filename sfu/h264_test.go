package sfu

import (
	"encoding/hex"
	"testing"
)

// SPS NAL units produced by x264 (ffmpeg -c:v libx264) for known sizes.
const (
	spsHigh720p    = "6764001facd9405005bb0110000003001000000303c0f1831960"
	spsBaseline642 = "6742c01ed900a42fe224c044000003000400000300f03c58b920" // 642x362, cropped
	spsHigh444     = "67f4000d919b28283f6022000003000200000300781e28532c"   // 320x240, 4:4:4
	spsInterlaced  = "67640015acd941410fcb8088000003000800000301e0f8a14cb0" // 320x240, field coding
	spsScalingList = "6764000bacd942c4ec0440000003004000000f03c50a6580"     // 176x144, cqm=jvt
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stapA aggregates NAL units into one STAP-A payload.
func stapA(nals ...[]byte) []byte {
	out := []byte{0x78} // F=0, NRI=3, type 24
	for _, n := range nals {
		out = append(out, byte(len(n)>>8), byte(len(n)))
		out = append(out, n...)
	}
	return out
}

func TestH264IsKeyframe(t *testing.T) {
	sps := mustHex(t, spsHigh720p)
	pps := []byte{0x68, 0xeb, 0xe3, 0xcb}
	idr := []byte{0x65, 0x88, 0x84, 0x00}
	slice := []byte{0x41, 0x9a, 0x02}
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"empty", nil, false},
		{"IDR single NAL", idr, true},
		{"SPS single NAL", sps, true},
		{"PPS alone", pps, false},
		{"non-IDR slice", slice, false},
		{"STAP-A SPS PPS IDR", stapA(sps, pps, idr), true},
		{"STAP-A PPS IDR", stapA(pps, idr), true},
		{"STAP-A slices only", stapA(slice, slice), false},
		{"STAP-A truncated size", []byte{0x78, 0x00, 0x09, 0x65}, false},
		{"STAP-A zero size", []byte{0x78, 0x00, 0x00, 0x65}, false},
		{"FU-A IDR start", []byte{0x7c, 0x85, 0x88}, true},
		{"FU-A IDR middle", []byte{0x7c, 0x05, 0x88}, false},
		{"FU-A IDR end", []byte{0x7c, 0x45, 0x88}, false},
		{"FU-A slice start", []byte{0x7c, 0x81, 0x9a}, false},
		{"FU-A without header", []byte{0x7c}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := H264IsKeyframe(tt.in); got != tt.want {
				t.Fatalf("H264IsKeyframe(% x) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestH264SPSSize(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		w, h   int
		wantOK bool
	}{
		{"high 720p with emulation prevention", mustHex(t, spsHigh720p), 1280, 720, true},
		{"baseline with cropping", mustHex(t, spsBaseline642), 642, 362, true},
		{"high 4:4:4", mustHex(t, spsHigh444), 320, 240, true},
		{"interlaced", mustHex(t, spsInterlaced), 320, 240, true},
		{"scaling lists", mustHex(t, spsScalingList), 176, 144, true},
		{"inside STAP-A", stapA([]byte{0x68, 0xeb}, mustHex(t, spsHigh720p)), 1280, 720, true},
		{"truncated", mustHex(t, spsHigh720p)[:6], 0, 0, false},
		{"not an SPS", []byte{0x65, 0x88}, 0, 0, false},
		{"empty", nil, 0, 0, false},
		{"STAP-A without SPS", stapA([]byte{0x65, 0x88}), 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, h, ok := H264SPSSize(tt.in)
			if w != tt.w || h != tt.h || ok != tt.wantOK {
				t.Fatalf("H264SPSSize = %d x %d %v, want %d x %d %v", w, h, ok, tt.w, tt.h, tt.wantOK)
			}
		})
	}
}

func FuzzH264(f *testing.F) {
	for _, s := range []string{spsHigh720p, spsBaseline642, spsHigh444, spsInterlaced, spsScalingList} {
		sps := mustHex(f, s)
		f.Add(sps)
		f.Add(stapA(sps, []byte{0x68, 0xeb, 0xe3, 0xcb}, []byte{0x65, 0x88, 0x84}))
	}
	f.Add([]byte{0x7c, 0x85, 0x88, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		key := H264IsKeyframe(data)
		w, h, ok := H264SPSSize(data)
		if ok && (w <= 0 || h <= 0 || w > 1<<16 || h > 1<<16) {
			t.Fatalf("implausible size %d x %d", w, h)
		}
		if ok && !key {
			t.Fatal("payload with a parsable SPS not reported as a keyframe")
		}
		if !ok && (w != 0 || h != 0) {
			t.Fatal("size returned with ok == false")
		}
	})
}

func BenchmarkH264IsKeyframe(b *testing.B) {
	p := stapA(mustHex(b, spsHigh720p), []byte{0x68, 0xeb, 0xe3, 0xcb}, []byte{0x65, 0x88, 0x84})
	b.ReportAllocs()
	for b.Loop() {
		if !H264IsKeyframe(p) {
			b.Fatal("not a keyframe")
		}
	}
}
