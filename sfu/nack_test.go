package sfu

import (
	"bytes"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// recordWriter keeps every packet written, as the subscriber would see it
// before encryption.
type recordWriter struct{ pkts []rtp.Packet }

func (w *recordWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	p := rtp.Packet{Header: *h, Payload: bytes.Clone(payload)}
	p.Header.Extensions = nil
	w.pkts = append(w.pkts, p)
	return len(payload), nil
}

func (w *recordWriter) Write(b []byte) (int, error) { return len(b), nil }

// feed sends n VP8 packets (the first a keyframe) through the receiver's
// cache and the fan-out, as receiver.run does, starting at source seq.
func feed(t *testing.T, tr *PublishedTrack, seq uint16, n int) {
	t.Helper()
	r := tr.receivers[0]
	for i := range n {
		hdr, payload := vp8Packet(seq+uint16(i), 3000*uint32(i+1), uint16(100+i), i == 0)
		raw, err := (&rtp.Packet{Header: hdr, Payload: payload}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		r.cache.store(hdr.SequenceNumber, raw)
		p := Packet{Header: &hdr, Payload: payload}
		r.classify(&p)
		for _, d := range *tr.downs.Load() {
			d.WriteRTP(&p)
		}
	}
}

func TestNACKResendsFromSharedCache(t *testing.T) {
	tr, downs := benchTrack(2)
	tr.receivers[0] = &receiver{track: tr, cache: &packetCache{}}
	ws := make([]*recordWriter, len(downs))
	for i, d := range downs {
		ws[i] = &recordWriter{}
		d.writer = ws[i]
	}
	feed(t, tr, 65530, 10) // wraps the source sequence number
	for i, w := range ws {
		if len(w.pkts) != 10 {
			t.Fatalf("subscriber %d got %d packets, want 10", i, len(w.pkts))
		}
	}
	// Subscriber 1 lost its 4th and 6th packets and NACKs them by its own
	// sequence numbers.
	w := ws[1]
	lost := []rtp.Packet{w.pkts[3], w.pkts[5]}
	nack := &rtcp.TransportLayerNack{MediaSSRC: downs[1].ssrc,
		Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{lost[0].SequenceNumber, lost[1].SequenceNumber})}
	downs[1].resend(nack)
	if got := len(w.pkts); got != 12 {
		t.Fatalf("after NACK subscriber 1 has %d packets, want 12", got)
	}
	for i, want := range lost {
		got := w.pkts[10+i]
		if got.SSRC != downs[1].ssrc || got.SequenceNumber != want.SequenceNumber ||
			got.Timestamp != want.Timestamp || got.PayloadType != want.PayloadType || got.Marker != want.Marker {
			t.Errorf("resend %d header = %+v, want as first sent %+v", i, got.Header, want.Header)
		}
		if !bytes.Equal(got.Payload, want.Payload) {
			t.Errorf("resend %d payload differs from the first send", i)
		}
	}
	if len(ws[0].pkts) != 10 {
		t.Errorf("subscriber 0 got %d packets, want no resend", len(ws[0].pkts))
	}
	if n := tr.owner.room.sfu.opts.stats.PacketsResent.Load(); n != 2 {
		t.Errorf("PacketsResent = %d, want 2", n)
	}
}

func TestNACKForUnknownOrEvictedPacketsIsIgnored(t *testing.T) {
	tr, downs := benchTrack(1)
	tr.receivers[0] = &receiver{track: tr, cache: &packetCache{}}
	w := &recordWriter{}
	downs[0].writer = w
	feed(t, tr, 1, cacheSlots+10)
	first := w.pkts[0].SequenceNumber
	never := w.pkts[len(w.pkts)-1].SequenceNumber + 100
	downs[0].resend(&rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{first, never})})
	if len(w.pkts) != cacheSlots+10 {
		t.Errorf("resent %d packets for evicted or unknown sequence numbers", len(w.pkts)-cacheSlots-10)
	}
	downs[0].close()
	last := w.pkts[len(w.pkts)-1].SequenceNumber
	downs[0].resend(&rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{last})})
	if len(w.pkts) != cacheSlots+10 {
		t.Error("a closed DownTrack resent a packet")
	}
}

func TestFeedbackOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkt  rtcp.Packet
		want feedback
	}{
		{"PLI", &rtcp.PictureLossIndication{MediaSSRC: 1}, feedbackKeyframe},
		{"FIR", &rtcp.FullIntraRequest{MediaSSRC: 1, FIR: []rtcp.FIREntry{{SSRC: 1}}}, feedbackKeyframe},
		{"NACK", &rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: []rtcp.NackPair{{PacketID: 5}}}, feedbackNACK},
		{"receiver report", &rtcp.ReceiverReport{SSRC: 1}, feedbackReport},
		{"sender report", &rtcp.SenderReport{SSRC: 1}, feedbackReport},
		{"TWCC", &rtcp.TransportLayerCC{MediaSSRC: 1, PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 1}}, RecvDeltas: []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}}}, feedbackOther},
		{"REMB", &rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 1e6, SSRCs: []uint32{1}}, feedbackOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.pkt.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if got := feedbackOf(b); got != tc.want {
				t.Errorf("feedbackOf = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestRTCPNACKsAreAnsweredOnce(t *testing.T) {
	tr, downs := benchTrack(1)
	tr.receivers[0] = &receiver{track: tr, cache: &packetCache{}}
	w := &recordWriter{}
	d := downs[0]
	d.writer = w
	feed(t, tr, 1, 10)
	var scratch rtcp.TransportLayerNack
	for i, seq := range []uint16{w.pkts[2].SequenceNumber, w.pkts[5].SequenceNumber} {
		rr, err := (&rtcp.ReceiverReport{SSRC: 9}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		nack, err := (&rtcp.TransportLayerNack{MediaSSRC: d.ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{seq})}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		before := len(w.pkts)
		d.handleRTCP(append(rr, nack...), &scratch)
		if got := len(w.pkts) - before; got != 1 {
			t.Fatalf("NACK %d: %d packets resent, want 1", i, got)
		}
		if got := w.pkts[len(w.pkts)-1].SequenceNumber; got != seq {
			t.Errorf("NACK %d resent seq %d, want %d", i, got, seq)
		}
	}
	d.handleRTCP([]byte{0x80, 201, 0xff, 0xff}, &scratch) // length past the end
	if n := tr.owner.room.sfu.opts.stats.NACKsReceived.Load(); n != 2 {
		t.Errorf("NACKsReceived = %d, want 2", n)
	}
}
