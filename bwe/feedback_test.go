package bwe

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestParseTWCC(t *testing.T) {
	var h sendHistory
	t0 := time.Unix(100, 0)
	for seq := uint16(65530); seq != 6; seq++ { // wraps
		h.add(seq, 1000, t0, 0, false)
	}
	fb := &rtcp.TransportLayerCC{
		BaseSequenceNumber: 65530,
		PacketStatusCount:  8,
		ReferenceTime:      10,
		PacketChunks: []rtcp.PacketStatusChunk{
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 3},
			&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: []uint16{
				rtcp.TypeTCCPacketNotReceived, rtcp.TypeTCCPacketReceivedSmallDelta,
				rtcp.TypeTCCPacketNotReceived, rtcp.TypeTCCPacketReceivedLargeDelta, rtcp.TypeTCCPacketNotReceived,
			}},
		},
		RecvDeltas: []*rtcp.RecvDelta{
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 1000},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 2000},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 3000},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 4000},
			{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: 5000},
		},
	}
	acks := parseTWCC(fb, &h, nil)
	if len(acks) != 8 {
		t.Fatalf("%d acks, want 8", len(acks))
	}
	received := 0
	for _, a := range acks {
		if a.received {
			received++
		}
	}
	if received != 5 {
		t.Fatalf("%d received, want 5", received)
	}
	base := 640 * time.Millisecond
	if acks[0].arrival != base+time.Millisecond || acks[7-1].arrival != base+15*time.Millisecond {
		t.Fatalf("arrivals %v .. %v", acks[0].arrival, acks[6].arrival)
	}
	// A repeated report does not count received packets twice.
	again := parseTWCC(fb, &h, nil)
	if len(again) != 3 {
		t.Fatalf("repeat gave %d acks, want only the 3 lost", len(again))
	}
	// Packets the history no longer knows are skipped.
	h.add(65533+historySize-65536, 1, t0, 0, false) // same slot as lost 65533
	if n := len(parseTWCC(fb, &h, nil)); n != 2 {
		t.Fatalf("%d acks after overwrite, want 2", n)
	}
}

func TestRateWindow(t *testing.T) {
	w := newRateWindow(500 * time.Millisecond)
	t0 := time.Unix(0, 0)
	if _, _, ok := w.rate(t0); ok {
		t.Fatal("rate without reports")
	}
	for i := 1; i <= 10; i++ { // 10 reports of 12.5 kB every 100 ms: 1 Mbit/s
		w.add(t0.Add(time.Duration(i)*100*time.Millisecond), 12_500, 9, 1)
	}
	bps, loss, ok := w.rate(t0.Add(time.Second))
	if !ok || bps < 950_000 || bps > 1_250_000 || loss != 0.1 {
		t.Fatalf("rate %d loss %v ok %v, want about 1 Mbit/s and 0.1", bps, loss, ok)
	}
	if _, _, ok := w.rate(t0.Add(3 * time.Second)); ok {
		t.Fatal("rate from reports older than the window")
	}
}
