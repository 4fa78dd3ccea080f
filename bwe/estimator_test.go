package bwe

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

const testTWCCID = 5

// fakeClock is a manual clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Unix(1000, 0)} }
func discard() interceptor.RTPWriter     { return interceptor.RTPWriterFunc(discardWrite) }
func discardWrite(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
	return h.MarshalSize() + len(p), nil
}

// estimatorRig drives an Estimator through its writer and feedback.
type estimatorRig struct {
	t     *testing.T
	e     *Estimator
	clock *fakeClock
	w     interceptor.RTPWriter
	seq   uint16
	sent  []uint16
	// arrival is the receiver clock, continued across reports (all with
	// reference time 0).
	arrival time.Duration
}

func newRig(t *testing.T, twcc bool, opts ...EstimatorOption) *estimatorRig {
	t.Helper()
	c := newFakeClock()
	e, err := NewEstimator(append([]EstimatorOption{WithEstimatorClock(c.now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	info := &interceptor.StreamInfo{SSRC: 1}
	if twcc {
		info.RTPHeaderExtensions = []interceptor.RTPHeaderExtension{{URI: TransportCCURI, ID: testTWCCID}}
	}
	return &estimatorRig{t: t, e: e, clock: c, w: e.AddStream(info, discard())}
}

// send writes n packets of size bytes, spaced by gap.
func (r *estimatorRig) send(n, size int, gap time.Duration) {
	for range n {
		h := &rtp.Header{Version: 2, SSRC: 1, SequenceNumber: r.seq}
		b := make([]byte, 2)
		binary.BigEndian.PutUint16(b, r.seq)
		if err := h.SetExtension(testTWCCID, b); err != nil {
			r.t.Fatal(err)
		}
		if _, err := r.w.Write(h, make([]byte, size), nil); err != nil {
			r.t.Fatal(err)
		}
		r.sent = append(r.sent, r.seq)
		r.seq++
		r.clock.add(gap)
	}
}

// feedback acknowledges everything sent since the last call, spacing
// arrivals by gap and reporting every lostEvery-th packet lost (0: none).
func (r *estimatorRig) feedback(gap time.Duration, lostEvery int) {
	if len(r.sent) == 0 {
		return
	}
	fb := &rtcp.TransportLayerCC{BaseSequenceNumber: r.sent[0], PacketStatusCount: uint16(len(r.sent))}
	var symbols []uint16
	for i := range r.sent {
		if lostEvery > 0 && i%lostEvery == lostEvery-1 {
			symbols = append(symbols, rtcp.TypeTCCPacketNotReceived)
			continue
		}
		symbols = append(symbols, rtcp.TypeTCCPacketReceivedSmallDelta)
		d := gap
		if len(fb.RecvDeltas) == 0 {
			d += r.arrival
		}
		r.arrival += gap
		fb.RecvDeltas = append(fb.RecvDeltas, &rtcp.RecvDelta{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: d.Microseconds()})
	}
	for len(symbols) > 0 {
		k := min(7, len(symbols))
		fb.PacketChunks = append(fb.PacketChunks, &rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: symbols[:k]})
		symbols = symbols[k:]
	}
	r.sent = r.sent[:0]
	if err := r.e.WriteRTCP([]rtcp.Packet{fb}, nil); err != nil {
		r.t.Fatal(err)
	}
}

func TestEstimatorREMBWithoutTWCC(t *testing.T) {
	r := newRig(t, false)
	if err := r.e.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 640_000, SSRCs: []uint32{1}}}, nil); err != nil {
		t.Fatal(err)
	}
	if st := r.e.Stats(); st.Estimate != 640_000 || st.TWCC {
		t.Fatalf("estimate %d (twcc %v), want the REMB 640000", st.Estimate, st.TWCC)
	}
	if r.e.StartProbe(2_000_000) {
		t.Fatal("a probe without transport-cc cannot be measured")
	}
}

// Sending 400 kbit/s with a clean link, the estimate may not grow past
// 1.5 x the acknowledged rate: GCC's own target drifts up meanwhile.
func TestEstimatorApplicationLimitedHold(t *testing.T) {
	r := newRig(t, true, WithInitialBitrate(300_000))
	for range 30 { // 3 s at 400 kbit/s: 5 packets of 1000 B per 100 ms
		r.send(5, 1000, 20*time.Millisecond)
		r.feedback(20*time.Millisecond, 0)
	}
	st := r.e.Stats()
	limit := int(appLimitedFactor*float64(st.Acked)) + appLimitedSlack
	if st.Estimate > limit+50_000 || st.Acked < 300_000 {
		t.Fatalf("estimate %d, acked %d: want at most about %d", st.Estimate, st.Acked, limit)
	}
}

// Loss over 10 % cuts the estimate by half the loss fraction, at most
// every lossCutInterval (libwebrtc's loss-based rule), counting only
// packets sent after the previous cut. When more than a quarter is lost
// and the receiver gets less than half the estimate, the link collapsed:
// the estimate drops to the receive rate at once.
func TestEstimatorLoss(t *testing.T) {
	tests := []struct {
		name       string
		initial    int
		lostEvery  int // every n-th packet lost
		arrivalGap time.Duration
		lo, hi     int // accepted estimate after 600 ms
	}{
		// 1 Mbit/s sent, 20 % lost, arriving at the sending pace: gentle
		// cuts of 10 %.
		{"moderate loss", 1_000_000, 5, 10 * time.Millisecond, 700_000, 950_000},
		// 1 Mbit/s sent against a 2 Mbit/s estimate, half lost, the rest
		// arriving at 320 kbit/s: down to about the receive rate.
		{"collapse", 2_000_000, 2, 30 * time.Millisecond, 100_000, 400_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, true, WithInitialBitrate(tc.initial))
			for range 6 {
				r.send(10, 1200, 10*time.Millisecond)
				r.feedback(tc.arrivalGap, tc.lostEvery)
			}
			st := r.e.Stats()
			if st.Loss < 0.1 || st.Estimate < tc.lo || st.Estimate > tc.hi {
				t.Fatalf("loss %.2f estimate %d: want %d..%d", st.Loss, st.Estimate, tc.lo, tc.hi)
			}
		})
	}
}

// A probe the receiver gets at the sending rate raises the estimate; one
// that arrives spread out (a queue formed) sets it to the capacity seen.
func TestEstimatorProbe(t *testing.T) {
	tests := []struct {
		name       string
		arrivalGap time.Duration // per 1200 B packet sent every 4 ms (2.4 Mbit/s)
		wantMin    int
		wantMax    int
	}{
		{"link carries it", 4 * time.Millisecond, 2_000_000, 2_500_000},
		{"link at 1.2 Mbit/s", 8 * time.Millisecond, 800_000, 1_100_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, true, WithInitialBitrate(1_000_000))
			if !r.e.StartProbe(2_400_000) {
				t.Fatal("probe refused")
			}
			if _, ok := r.e.Probing(); !ok {
				t.Fatal("not probing")
			}
			for range 5 { // 200 ms of probe, feedback every 40 ms
				r.send(10, 1200, 4*time.Millisecond)
				r.feedback(tt.arrivalGap, 0)
			}
			r.clock.add(probeSettle)
			r.send(1, 100, time.Millisecond)
			r.feedback(time.Millisecond, 0)
			st := r.e.Stats()
			if st.LastProbe.Bitrate < tt.wantMin || st.LastProbe.Bitrate > tt.wantMax {
				t.Fatalf("probe result %d, want %d..%d", st.LastProbe.Bitrate, tt.wantMin, tt.wantMax)
			}
			if st.Probing {
				t.Fatal("still probing")
			}
			if r.e.StartProbe(2_400_000) {
				t.Fatal("a new probe started right after the last one (no backoff)")
			}
		})
	}
}
