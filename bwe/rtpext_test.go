package bwe

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/pion/rtp"
)

func TestRTPExtension(t *testing.T) {
	one := audioPacket(t, 7, 1, 33, true, testExtID, false)
	two := audioPacket(t, 7, 1, 33, true, testExtID, true)
	withCSRC := func() []byte {
		p := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 7, CSRC: []uint32{1, 2}}}
		if err := p.Header.SetExtension(testExtID, []byte{0x80 | 33}); err != nil {
			t.Fatal(err)
		}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	noExt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 7}}).Marshal()
	tests := []struct {
		name string
		buf  []byte
		id   uint8
		want []byte
		ok   bool
	}{
		{"one-byte", one, testExtID, []byte{0x80 | 33}, true},
		{"two-byte", two, testExtID, []byte{0x80 | 33}, true},
		{"with CSRCs", withCSRC, testExtID, []byte{0x80 | 33}, true},
		{"other element", one, 1, []byte{0xaa, 0xbb}, true},
		{"absent id", one, 9, nil, false},
		{"no extension", noExt, testExtID, nil, false},
		{"truncated extension", one[:len(one)-8], testExtID, nil, false},
		{"short", one[:11], testExtID, nil, false},
		{"version 1", append([]byte{0x50}, one[1:]...), testExtID, nil, false},
		{"id 0 with a length ends the walk", append(append([]byte{}, one[:16]...), 0x01, 0, 0, 0x30, 0x9e, 0, 0, 0), testExtID, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ssrc, ext, ok := rtpExtension(tt.buf, tt.id)
			if ok != tt.ok || !bytes.Equal(ext, tt.want) || (ok && ssrc != 7) {
				t.Fatalf("rtpExtension = %d, %x, %v; want 7, %x, %v", ssrc, ext, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzRTPExtension checks the allocation-free walker against pion's
// rtp.Header.Unmarshal: wherever pion accepts a version 2 header with an
// RFC 8285 profile it understands, both must find the same element.
func FuzzRTPExtension(f *testing.F) {
	f.Add(audioPacket(f, 7, 1, 33, true, testExtID, false), uint8(testExtID))
	f.Add(audioPacket(f, 7, 1, 33, true, testExtID, true), uint8(testExtID))
	f.Add(audioPacket(f, 7, 1, 33, true, 14, false), uint8(1))
	f.Fuzz(func(t *testing.T, buf []byte, id uint8) {
		ssrc, ext, ok := rtpExtension(buf, id)
		if id == 0 {
			return // not a valid element id; only checked not to panic
		}
		var h rtp.Header
		if _, err := h.Unmarshal(buf); err != nil || h.Version != 2 {
			return
		}
		if h.Extension && h.ExtensionProfile != rtp.ExtensionProfileOneByte &&
			h.ExtensionProfile != rtp.ExtensionProfileTwoByte {
			return // RFC 3550 or two-byte with appbits: pion keeps them opaque
		}
		want := h.GetExtension(id)
		if ok != (want != nil) || !bytes.Equal(ext, want) || ssrc != binary.BigEndian.Uint32(buf[8:12]) {
			t.Fatalf("walker %x %v, pion %x", ext, ok, want)
		}
	})
}
