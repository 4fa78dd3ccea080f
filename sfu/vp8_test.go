package sfu

import (
	"bytes"
	"errors"
	"testing"
)

// vp8Key returns the start of a VP8 keyframe payload (frame tag with P=0
// and show_frame, start code, 640x360 with scale bits set on the width).
func vp8Key() []byte {
	return []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0xc2, 0x68, 0x01, 0xaa, 0xbb}
}

// vp8Delta returns the start of a VP8 interframe payload (P=1).
func vp8Delta() []byte { return []byte{0x31, 0x02, 0x00, 0xde, 0xad} }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestParseVP8(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    VP8Descriptor
		wantErr error
	}{
		{
			name: "minimal keyframe without size",
			in:   []byte{0x10, 0x00},
			want: VP8Descriptor{HeaderSize: 1, S: true, IsKeyframe: true},
		},
		{
			name: "all fields, 15-bit picture id, keyframe 640x360",
			in:   cat([]byte{0x90, 0xf0, 0x92, 0x34, 0x56, 0xa5}, vp8Key()),
			want: VP8Descriptor{
				HeaderSize: 6, S: true, HasPictureID: true, PictureID: 0x1234, PictureID15: true,
				HasTL0PICIDX: true, TL0PICIDX: 0x56, HasTID: true, TID: 2, LayerSync: true,
				HasKeyIdx: true, KeyIdx: 5, IsKeyframe: true, Width: 640, Height: 360,
			},
		},
		{
			name: "7-bit picture id, delta frame",
			in:   cat([]byte{0x90, 0x80, 0x7f}, vp8Delta()),
			want: VP8Descriptor{HeaderSize: 3, S: true, HasPictureID: true, PictureID: 0x7f},
		},
		{
			name: "TID without sync, non-reference, partition 3",
			in:   cat([]byte{0xa3, 0x20, 0xc0}, vp8Delta()),
			want: VP8Descriptor{HeaderSize: 3, NonReference: true, PartitionID: 3, HasTID: true, TID: 3},
		},
		{
			name: "continuation packet is not a keyframe even with P=0",
			in:   []byte{0x80, 0x80, 0x81, 0x00, 0x00},
			want: VP8Descriptor{HeaderSize: 4, HasPictureID: true, PictureID: 0x100, PictureID15: true},
		},
		{
			name: "partition 1 start is not a keyframe",
			in:   []byte{0x11, 0x00},
			want: VP8Descriptor{HeaderSize: 1, S: true, PartitionID: 1},
		},
		{
			name: "bad start code leaves size unknown",
			in:   cat([]byte{0x10}, []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2b, 0x80, 0x02, 0x68, 0x01}),
			want: VP8Descriptor{HeaderSize: 1, S: true, IsKeyframe: true},
		},
		{name: "empty", in: nil, wantErr: ErrVP8Short},
		{name: "descriptor only", in: []byte{0x10}, wantErr: ErrVP8Short},
		{name: "X without extension byte", in: []byte{0x90}, wantErr: ErrVP8Short},
		{name: "I without picture id", in: []byte{0x90, 0x80}, wantErr: ErrVP8Short},
		{name: "M without second byte", in: []byte{0x90, 0x80, 0x80}, wantErr: ErrVP8Short},
		{name: "L without TL0PICIDX", in: []byte{0x90, 0x40}, wantErr: ErrVP8Short},
		{name: "K without KEYIDX", in: []byte{0x90, 0x10}, wantErr: ErrVP8Short},
		{name: "full descriptor, no payload", in: []byte{0x90, 0xf0, 0x92, 0x34, 0x56, 0xa5}, wantErr: ErrVP8Short},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := VP8Descriptor{HeaderSize: 99, Width: 7} // must be reset
			err := ParseVP8(tt.in, &d)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if d != tt.want {
				t.Fatalf("got  %+v\nwant %+v", d, tt.want)
			}
		})
	}
}

func TestRewriteVP8(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		pid  uint16
		tl0  uint8
		want []byte
	}{
		{
			name: "15-bit id and TL0 replaced, T/K byte kept",
			in:   cat([]byte{0x90, 0xf0, 0x92, 0x34, 0x56, 0xa5}, vp8Key()),
			pid:  0x7fff, tl0: 0x01,
			want: cat([]byte{0x90, 0xf0, 0xff, 0xff, 0x01, 0xa5}, vp8Key()),
		},
		{
			name: "7-bit id grows to 15 bits",
			in:   cat([]byte{0x90, 0x80, 0x7f}, vp8Delta()),
			pid:  0x0080,
			want: cat([]byte{0x90, 0x80, 0x80, 0x80}, vp8Delta()),
		},
		{
			name: "no extension gains X and picture id",
			in:   cat([]byte{0x10}, vp8Delta()),
			pid:  0x1234,
			want: cat([]byte{0x90, 0x80, 0x92, 0x34}, vp8Delta()),
		},
		{
			name: "TID only, no TL0: tl0 argument ignored",
			in:   cat([]byte{0x80, 0xa0, 0x05, 0x40}, vp8Delta()),
			pid:  0x0001, tl0: 0x99,
			want: cat([]byte{0x80, 0xa0, 0x80, 0x01, 0x40}, vp8Delta()),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d VP8Descriptor
			if err := ParseVP8(tt.in, &d); err != nil {
				t.Fatal(err)
			}
			dst := make([]byte, len(tt.in)+VP8MaxDescriptorGrowth)
			n, err := RewriteVP8(dst, tt.in, &d, tt.pid, tt.tl0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(dst[:n], tt.want) {
				t.Fatalf("got  % x\nwant % x", dst[:n], tt.want)
			}
			// In place: the payload at the start of a larger buffer.
			buf := make([]byte, len(tt.in)+VP8MaxDescriptorGrowth)
			copy(buf, tt.in)
			n, err = RewriteVP8(buf, buf[:len(tt.in)], &d, tt.pid, tt.tl0)
			if err != nil || !bytes.Equal(buf[:n], tt.want) {
				t.Fatalf("in place: err %v got % x", err, buf[:n])
			}
		})
	}
}

func TestRewriteVP8Errors(t *testing.T) {
	in := cat([]byte{0x90, 0x80, 0x7f}, vp8Delta())
	var d VP8Descriptor
	if err := ParseVP8(in, &d); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dst  []byte
		in   []byte
		d    VP8Descriptor
		want error
	}{
		{"dst too small", make([]byte, len(in)), in, d, ErrVP8BufferTooSmall},
		{"zero descriptor", make([]byte, 64), in, VP8Descriptor{}, ErrVP8Descriptor},
		{"descriptor longer than payload", make([]byte, 64), in[:3], d, ErrVP8Descriptor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := RewriteVP8(tt.dst, tt.in, &tt.d, 1, 1); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzParseVP8(f *testing.F) {
	f.Add(cat([]byte{0x90, 0xf0, 0x92, 0x34, 0x56, 0xa5}, vp8Key()), uint16(0x7fff), byte(0))
	f.Add(cat([]byte{0x10}, vp8Delta()), uint16(1), byte(1))
	f.Fuzz(func(t *testing.T, data []byte, pid uint16, tl0 uint8) {
		var d VP8Descriptor
		if err := ParseVP8(data, &d); err != nil {
			if !errors.Is(err, ErrVP8Short) {
				t.Fatalf("unexpected error type %v", err)
			}
			return
		}
		if d.HeaderSize < 1 || d.HeaderSize >= len(data) || d.Width > 0x3fff || d.Height > 0x3fff {
			t.Fatalf("out of range: %+v for %d bytes", d, len(data))
		}
		pid &= 0x7fff
		dst := make([]byte, len(data)+VP8MaxDescriptorGrowth)
		n, err := RewriteVP8(dst, data, &d, pid, tl0)
		if err != nil {
			t.Fatal(err)
		}
		var r VP8Descriptor
		if err := ParseVP8(dst[:n], &r); err != nil {
			t.Fatalf("rewritten payload does not parse: %v (% x)", err, dst[:n])
		}
		want := d
		want.HeaderSize = r.HeaderSize
		want.HasPictureID, want.PictureID15, want.PictureID = true, true, pid
		if d.HasTL0PICIDX {
			want.TL0PICIDX = tl0
		}
		if r != want {
			t.Fatalf("reparsed\n got %+v\nwant %+v", r, want)
		}
		if !bytes.Equal(dst[r.HeaderSize:n], data[d.HeaderSize:]) {
			t.Fatal("VP8 payload after the descriptor changed")
		}
	})
}

func BenchmarkRewriteVP8(b *testing.B) {
	payload := cat([]byte{0x90, 0xe0, 0x92, 0x34, 0x56, 0x40}, vp8Delta(), make([]byte, 1100))
	var d VP8Descriptor
	if err := ParseVP8(payload, &d); err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, len(payload)+VP8MaxDescriptorGrowth)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for i := 0; b.Loop(); i++ {
		if _, err := RewriteVP8(dst, payload, &d, uint16(i)&0x7fff, uint8(i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseVP8(b *testing.B) {
	payload := cat([]byte{0x90, 0xe0, 0x92, 0x34, 0x56, 0x40}, vp8Key(), make([]byte, 1100))
	var d VP8Descriptor
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseVP8(payload, &d); err != nil {
			b.Fatal(err)
		}
	}
}
