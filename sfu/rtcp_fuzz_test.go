package sfu

import (
	"reflect"
	"testing"

	"github.com/pion/rtcp"
)

// rtcpSeeds are one packet of every type a subscriber sends the server.
func rtcpSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	pkts := [][]rtcp.Packet{
		{&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: fuzzSubSSRC}},
		{&rtcp.FullIntraRequest{SenderSSRC: 1, MediaSSRC: fuzzSubSSRC, FIR: []rtcp.FIREntry{{SSRC: fuzzSubSSRC, SequenceNumber: 3}}}},
		{&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: fuzzSubSSRC, Nacks: []rtcp.NackPair{{PacketID: 100, LostPackets: 0x0005}}}},
		{&rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: 1, Bitrate: 1.5e6, SSRCs: []uint32{fuzzSubSSRC}}},
		{&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: fuzzSubSSRC, FractionLost: 12, TotalLost: 40, LastSequenceNumber: 5000, Jitter: 90}}}},
		{&rtcp.TransportLayerCC{
			SenderSSRC: 1, MediaSSRC: fuzzSubSSRC, BaseSequenceNumber: 10, PacketStatusCount: 3, ReferenceTime: 4, FbPktCount: 1,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 3}},
			RecvDeltas:   []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 500}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 0}},
		}},
		{&rtcp.ReceiverReport{SSRC: 1}, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: 1, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "bot"}}}}}},
		{&rtcp.Goodbye{Sources: []uint32{1}, Reason: "bye"}},
	}
	out := make([][]byte, 0, len(pkts))
	for _, p := range pkts {
		b, err := rtcp.Marshal(p)
		if err != nil {
			tb.Fatalf("seed %T: %v", p[0], err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzSubscriberRTCP parses a subscriber's RTCP as pion does for the
// server, runs the DownTrack's handling of it, and checks that the handling
// counted exactly the keyframe requests and NACKs in it, and that what pion
// parsed marshals back to packets that parse to the same values.
func FuzzSubscriberRTCP(f *testing.F) {
	for _, b := range rtcpSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts, err := rtcp.Unmarshal(data)
		if err != nil {
			return
		}
		fx := newPathFixture(t, KindVideo, "video/VP8")
		var plis, nacks uint64
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				plis++
			case *rtcp.TransportLayerNack:
				nacks++
			}
		}
		var scratch rtcp.TransportLayerNack
		fx.down.handleRTCP(data, &scratch)
		st := fx.sfu.opts.stats
		if st.PLIsReceived.Load() != plis || st.NACKsReceived.Load() != nacks {
			t.Fatalf("counted %d keyframe requests and %d NACKs, want %d and %d",
				st.PLIsReceived.Load(), st.NACKsReceived.Load(), plis, nacks)
		}
		if plis > 0 && st.KeyframeReqs.Load() != 1 {
			t.Fatalf("%d keyframe requests reached the publisher, want 1 (coalesced)", st.KeyframeReqs.Load())
		}
		if hasTWCC(pkts) {
			return // pion/rtcp v1.2.20 writes back the length it read, not the one it writes (docs/fuzzing.md)
		}
		if hasOversizedREMB(pkts) {
			return // above REMB's largest value pion reads what it cannot write back (docs/fuzzing.md)
		}
		wire, err := rtcp.Marshal(pkts)
		if err != nil {
			return // pion refuses to write some values it reads; the server never writes them
		}
		again, err := rtcp.Unmarshal(wire)
		if err != nil {
			t.Fatalf("re-marshalled RTCP does not parse: %v", err)
		}
		if !reflect.DeepEqual(pkts, again) {
			t.Fatalf("round trip changed the packets\n got %#v\nwant %#v", again, pkts)
		}
	})
}

// maxREMB is the largest bitrate a REMB field holds: an 18-bit mantissa
// shifted by a 6-bit exponent.
const maxREMB = float32((1<<18)-1) * (1 << 63)

// hasOversizedREMB reports a REMB whose parsed bitrate is above maxREMB:
// pion/rtcp v1.2.20 decodes such bytes (found by FuzzSubscriberRTCP:
// 4.8e24 bit/s) but writes the field's maximum, so the round trip cannot
// hold. The server only reads REMB, and clamps it (bwe.Estimator).
func hasOversizedREMB(pkts []rtcp.Packet) bool {
	for _, p := range pkts {
		if r, ok := p.(*rtcp.ReceiverEstimatedMaximumBitrate); ok && r.Bitrate > maxREMB {
			return true
		}
	}
	return false
}

// hasTWCC reports a transport-wide CC feedback: pion/rtcp marshals it with
// the header it parsed, so a packet with trailing bytes or the padding bit
// comes back with a length field that does not match its size. The server
// never writes a subscriber's feedback back out; only pion's own round
// trip breaks, and parsing is still fuzzed for panics.
func hasTWCC(pkts []rtcp.Packet) bool {
	for _, p := range pkts {
		if _, ok := p.(*rtcp.TransportLayerCC); ok {
			return true
		}
	}
	return false
}
