package sfu

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
)

// FuzzRTPHeaderExtensions reads the header extensions the server reads from
// a publisher's packets, at the ids a client negotiated: mid and rid (pion
// maps unsignalled simulcast SSRCs with them), transport-wide sequence
// (pion's TWCC interceptor), absolute send time and audio level (the
// receiver). Nothing may panic; the header and every extension value pion
// accepts must write back to bytes that read the same.
func FuzzRTPHeaderExtensions(f *testing.F) {
	h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 1, Timestamp: 2, SSRC: 3}
	_ = h.SetExtension(4, []byte("0"))
	_ = h.SetExtension(10, []byte("q"))
	_ = h.SetExtension(3, []byte{0x01, 0x02})
	_ = h.SetExtension(2, []byte{0x12, 0x34, 0x56})
	b, err := h.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, uint8(4), uint8(10), uint8(3), uint8(2))
	f.Fuzz(func(t *testing.T, raw []byte, midID, ridID, twccID, absID uint8) {
		var hdr rtp.Header
		if _, err := hdr.Unmarshal(raw); err != nil {
			return
		}
		for _, id := range []uint8{midID, ridID} {
			_ = string(hdr.GetExtension(id)) // what pion compares with a=mid / a=rid
		}
		if ext := hdr.GetExtension(twccID); ext != nil {
			var tcc rtp.TransportCCExtension
			if tcc.Unmarshal(ext) == nil {
				out, err := tcc.Marshal()
				if err != nil || !bytes.Equal(out, ext[:2]) {
					t.Fatalf("transport-wide seq %x written as %x (%v)", ext, out, err)
				}
			}
		}
		if ext := hdr.GetExtension(absID); ext != nil {
			var abs rtp.AbsSendTimeExtension
			if abs.Unmarshal(ext) == nil {
				out, err := abs.Marshal()
				if err != nil || !bytes.Equal(out, ext[:3]) {
					t.Fatalf("abs-send-time %x written as %x (%v)", ext, out, err)
				}
			}
		}
		wire, err := hdr.Marshal()
		if err != nil {
			return
		}
		var again rtp.Header
		if _, err := again.Unmarshal(wire); err != nil {
			t.Fatalf("re-marshalled header does not parse: %v", err)
		}
		hdr.PayloadOffset, again.PayloadOffset = 0, 0
		hdr.PaddingSize, again.PaddingSize = 0, 0
		if !headersEqual(&hdr, &again) {
			t.Fatalf("round trip changed the header\n got %+v\nwant %+v", again, hdr)
		}
	})
}

func headersEqual(a, b *rtp.Header) bool {
	if a.Version != b.Version || a.Padding != b.Padding || a.Marker != b.Marker || a.PayloadType != b.PayloadType ||
		a.SequenceNumber != b.SequenceNumber || a.Timestamp != b.Timestamp || a.SSRC != b.SSRC ||
		a.Extension != b.Extension || len(a.CSRC) != len(b.CSRC) || len(a.Extensions) != len(b.Extensions) {
		return false
	}
	for i := range a.CSRC {
		if a.CSRC[i] != b.CSRC[i] {
			return false
		}
	}
	ids := a.GetExtensionIDs()
	if len(ids) != len(b.GetExtensionIDs()) || a.ExtensionProfile != b.ExtensionProfile {
		return false
	}
	for _, id := range ids {
		if !bytes.Equal(a.GetExtension(id), b.GetExtension(id)) {
			return false
		}
	}
	return true
}
