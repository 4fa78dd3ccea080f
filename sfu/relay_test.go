package sfu

import (
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// benchRelay binds a relay of t's layer 0 to a discarding writer, with the
// extension ids a relay negotiates (mid, rid), as pion would at Bind.
func benchRelay(t *PublishedTrack, w *discardWriter) *relayOut {
	o := &relayOut{track: t, node: "b", layers: make([]*relayLayer, MaxSpatialLayers)}
	l := &relayLayer{out: o, rid: "q", layer: 0, writer: w, ssrc: 7, pt: 96, midID: 1, ridID: 2, mid: []byte("0"), ridB: []byte("q")}
	o.layers[0] = l
	relays := []*relayOut{o}
	t.relays.Store(&relays)
	return o
}

// BenchmarkRelayWrite is the per-packet work a cross-node relay adds on the
// sending node, next to BenchmarkFanout's per-subscriber work: a header
// copy with the relay's SSRC, payload type, mid and rid (no VP8 rewrite:
// the relay keeps the publisher's numbering).
func BenchmarkRelayWrite(b *testing.B) {
	t, _ := benchTrack(0)
	w := &discardWriter{}
	o := benchRelay(t, w)
	hdr, payload := vp8Packet(1, 3000, 1, false)
	p := Packet{Header: &hdr, Payload: payload}
	o.write(&p)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hdr.SequenceNumber++
		o.write(&p)
	}
}

// The relay keeps the publisher's sequence number, timestamp, marker and
// payload, puts its own SSRC, payload type, mid and rid on the packet, and
// never touches the source header (which the other subscribers share).
func TestRelayWriteRewritesOnlyItsFields(t *testing.T) {
	tr, _ := benchTrack(0)
	w := &captureWriter{}
	o := &relayOut{track: tr, node: "b", layers: make([]*relayLayer, MaxSpatialLayers)}
	o.layers[1] = &relayLayer{out: o, rid: "h", layer: 1, writer: w, ssrc: 7, pt: 100, midID: 1, ridID: 2, levelID: 3, mid: []byte("0"), ridB: []byte("h")}
	src := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 500, Timestamp: 9000, SSRC: 42, Marker: true}
	if err := src.SetExtension(9, []byte{0xaa}); err != nil {
		t.Fatal(err)
	}
	payload := []byte{1, 2, 3}
	for _, c := range []struct {
		name  string
		layer int
		level bool
		sent  int
	}{
		{"layer without a relay stream", 0, false, 0},
		{"relayed layer", 1, false, 1},
		{"relayed layer with audio level", 1, true, 2},
		{"layer out of range", 7, false, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			o.write(&Packet{Header: &src, Payload: payload, Layer: c.layer, HasAudioLevel: c.level, AudioLevel: 0x85})
			if len(w.pkts) != c.sent {
				t.Fatalf("%d packets written, want %d", len(w.pkts), c.sent)
			}
			if c.sent == 0 || c.layer != 1 {
				return
			}
			var got rtp.Packet
			if err := got.Unmarshal(w.pkts[len(w.pkts)-1]); err != nil {
				t.Fatal(err)
			}
			if got.SequenceNumber != 500 || got.Timestamp != 9000 || !got.Marker || got.SSRC != 7 || got.PayloadType != 100 {
				t.Errorf("header %+v", got.Header)
			}
			if string(got.GetExtension(1)) != "0" || string(got.GetExtension(2)) != "h" || got.GetExtension(9) != nil {
				t.Errorf("extensions %+v", got.Extensions)
			}
			if lv := got.GetExtension(3); c.level != (len(lv) == 1 && lv[0] == 0x85) {
				t.Errorf("audio level %v, want present=%v", lv, c.level)
			}
			if string(got.Payload) != string(payload) {
				t.Errorf("payload %v", got.Payload)
			}
		})
	}
	if src.SSRC != 42 || src.PayloadType != 96 || len(src.Extensions) != 1 || src.GetExtension(9)[0] != 0xaa {
		t.Errorf("source header changed: %+v", src)
	}
}

// A NACK from the receiving node is answered from the layer's cache with
// the publisher's own sequence number, payload and the relay's header
// fields; a packet the cache no longer holds is not sent.
func TestRelayResendFromCache(t *testing.T) {
	tr, _ := benchTrack(0)
	r := &receiver{track: tr, layer: 1, cache: &packetCache{}}
	tr.receivers[1] = r
	w := &captureWriter{}
	o := &relayOut{track: tr, node: "b", layers: make([]*relayLayer, MaxSpatialLayers)}
	l := &relayLayer{out: o, rid: "h", layer: 1, writer: w, ssrc: 7, pt: 100, ridID: 2, ridB: []byte("h")}
	o.layers[1] = l
	for seq := uint16(10); seq < 13; seq++ {
		raw, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: 3000, SSRC: 42}, Payload: []byte{byte(seq), 1, 2}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		r.cache.store(seq, raw)
	}
	for _, c := range []struct {
		seq  uint16
		sent bool
	}{{11, true}, {10, true}, {13, false}, {9, false}} {
		before := len(w.pkts)
		l.resend(c.seq)
		if sent := len(w.pkts) > before; sent != c.sent {
			t.Fatalf("seq %d: resent %v, want %v", c.seq, sent, c.sent)
		}
		if !c.sent {
			continue
		}
		var got rtp.Packet
		if err := got.Unmarshal(w.pkts[len(w.pkts)-1]); err != nil {
			t.Fatal(err)
		}
		if got.SequenceNumber != c.seq || got.SSRC != 7 || got.PayloadType != 100 || got.Payload[0] != byte(c.seq) || string(got.GetExtension(2)) != "h" {
			t.Errorf("seq %d resent as %+v", c.seq, got)
		}
	}
}

func TestNeedMask(t *testing.T) {
	for _, c := range []struct {
		active []bool
		want   uint8
	}{
		{nil, 0}, {[]bool{true, false, false}, 1}, {[]bool{true, false, true}, 5}, {[]bool{true, true, true}, 7},
	} {
		if got := needMask(c.active); got != c.want {
			t.Errorf("needMask(%v) = %d, want %d", c.active, got, c.want)
		}
	}
	o := &relayOut{track: &PublishedTrack{wake: make(chan struct{}, 1)}}
	if !o.needs(2) {
		t.Error("a relay that heard nothing must carry every layer")
	}
	o.heardNeed(&rtcp.ApplicationDefined{Name: relayNeedName, Data: []byte{1, 0, 0, 0}})
	if !o.needs(0) || o.needs(1) || o.needs(2) {
		t.Errorf("after mask 1: needs %v %v %v", o.needs(0), o.needs(1), o.needs(2))
	}
	o.heardNeed(&rtcp.ApplicationDefined{Name: "XXXX", Data: []byte{7, 0, 0, 0}})
	o.heardNeed(&rtcp.ApplicationDefined{Name: relayNeedName, Data: []byte{0, 0, 0, 0}})
	if o.needs(1) {
		t.Error("another application's packet, or an empty mask, changed the needs")
	}
}
