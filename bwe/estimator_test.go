package bwe

import (
	"encoding/binary"
	"slices"
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
	// dropped are transport-wide sequence numbers the next feedback
	// reports lost whatever lostEvery says.
	dropped map[uint16]bool
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
		r.write(r.seq, size)
		r.clock.add(gap)
	}
}

// resend writes again n packets sent before (RTP sequence numbers below
// the newest, new transport-wide ones), all lost on the way when dropped.
func (r *estimatorRig) resend(n, size int, dropped bool) {
	for i := range n {
		if dropped {
			if r.dropped == nil {
				r.dropped = make(map[uint16]bool)
			}
			r.dropped[r.seq] = true
		}
		r.write(r.seq-uint16(2*(i+1)), size)
	}
}

// write sends one packet: RTP sequence number rtpSeq, transport-wide r.seq.
func (r *estimatorRig) write(rtpSeq uint16, size int) {
	{
		h := &rtp.Header{Version: 2, SSRC: 1, SequenceNumber: rtpSeq}
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
		if (lostEvery > 0 && i%lostEvery == lostEvery-1) || r.dropped[r.sent[i]] {
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
	r.sent, r.dropped = r.sent[:0], nil
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
	if r.e.StartProbe(2_000_000, ProbeUpgrade) {
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

// Retransmissions repeat their original's RTP sequence number (no RTX).
// A copy of a packet the receiver already has is dropped by its SRTP
// replay check and reported lost by transport-cc; that is no loss on the
// link. Chromium on loopback showed bursts of 30-70 % such "loss" after a
// publisher's ICE restart, which collapsed the estimate to its floor and
// paused the video. New packets lost still count.
func TestEstimatorIgnoresLostRetransmissions(t *testing.T) {
	r := newRig(t, true, WithInitialBitrate(1_000_000))
	for range 6 { // 960 kbit/s of new packets, every one arriving
		r.send(10, 1200, 10*time.Millisecond)
		r.resend(5, 1200, true)
		r.feedback(10*time.Millisecond, 0)
	}
	st := r.e.Stats()
	if st.Loss > 0 || st.Estimate < 1_000_000 || !st.DecreasedAt.IsZero() {
		t.Fatalf("loss %.2f, estimate %d, cut at %v (%s): want no loss and no cut", st.Loss, st.Estimate, st.DecreasedAt, st.Cause)
	}
	for range 6 { // the same with every fifth new packet lost: 20 %
		r.send(10, 1200, 10*time.Millisecond)
		r.resend(5, 1200, true)
		r.feedback(10*time.Millisecond, 5)
	}
	if st := r.e.Stats(); st.Loss < 0.15 || st.Loss > 0.25 || st.DecreasedAt.IsZero() {
		t.Fatalf("loss %.2f, cut at %v: want the 20 %% of new packets lost to count", st.Loss, st.DecreasedAt)
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
			if !r.e.StartProbe(2_400_000, ProbeUpgrade) {
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
			if r.e.StartProbe(2_400_000, ProbeUpgrade) {
				t.Fatal("a new probe started right after the last one (no backoff)")
			}
		})
	}
}

// An over-use signal cuts to 0.85 x the receive rate only when the path
// held the packets back (received slower than sent). Otherwise the receive
// rate is just what was offered (media that has just resumed: a track back
// from P2P, a publisher back from an ICE restart), and cutting to it took
// the estimate to its floor in one step; the estimate loses 15 % instead.
func TestOveruseCut(t *testing.T) {
	tests := []struct {
		name            string
		est, recv, sent int
		ok              bool
		want            int
	}{
		{"saturated: capacity measured", 5_000_000, 300_000, 5_000_000, true, 255_000},
		{"received as sent: resumed media", 1_000_000, 70_000, 72_000, true, 850_000},
		{"too few arrivals to tell", 1_000_000, 0, 0, false, 850_000},
		{"probe overshoot delivered unsaturated", 1_227_000, 1_440_000, 1_449_000, true, 1_224_000},
		{"far above the estimate, unsaturated", 1_000_000, 2_000_000, 2_050_000, true, 1_000_000},
		{"saturated above the estimate", 500_000, 1_000_000, 2_000_000, true, 500_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := overuseCut(tc.est, tc.recv, tc.sent, tc.ok); got != tc.want {
				t.Fatalf("overuseCut(%d, %d, %d, %v) = %d, want %d", tc.est, tc.recv, tc.sent, tc.ok, got, tc.want)
			}
		})
	}
}

// The arrival window gives the send rate of the packets it holds: equal to
// the receive rate when the path kept up, higher behind a bottleneck.
func TestArrivalRates(t *testing.T) {
	t0 := time.Unix(0, 0)
	for _, tc := range []struct {
		name    string
		arrival time.Duration // per 1000 B packet sent every 4 ms (2 Mbit/s)
		recv    int
	}{
		{"kept up", 4 * time.Millisecond, 2_000_000},
		{"bottleneck at 1 Mbit/s", 8 * time.Millisecond, 1_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newArrivalRate(recentWindow)
			for i := range 50 {
				r.add(time.Duration(i)*tc.arrival, 1000, t0.Add(time.Duration(i)*4*time.Millisecond))
			}
			recv, sent, ok := r.rates()
			if !ok || recv < tc.recv*95/100 || recv > tc.recv*105/100 || sent < 1_900_000 || sent > 2_100_000 {
				t.Fatalf("recv %d sent %d ok %v, want about %d and 2000000", recv, sent, ok, tc.recv)
			}
		})
	}
}

// A failed upgrade probe backs the next probe off; a failed headroom probe
// (room above an allocation that has all it wants) does not, so it never
// delays the probe an upgrade needs.
func TestProberFailureBackoff(t *testing.T) {
	tests := []struct {
		purpose   ProbePurpose
		wantReady bool
	}{
		{ProbeUpgrade, false},
		{ProbeHeadroom, true},
	}
	for _, tt := range tests {
		var p prober
		now := time.Unix(1000, 0)
		if !p.start(1_000_000, tt.purpose, now) {
			t.Fatal("probe refused")
		}
		now = now.Add(probeDuration)
		if p.sendingID(now) != 0 {
			t.Fatal("still sending after probeDuration")
		}
		now = now.Add(probeSettle)
		r, done := p.update(now)
		if !done || r.Success || r.Purpose != tt.purpose {
			t.Fatalf("purpose %d: result %+v (done %v), want a failure", tt.purpose, r, done)
		}
		if ready := p.start(1_000_000, ProbeUpgrade, now); ready != tt.wantReady {
			t.Errorf("purpose %d: next probe allowed at once = %v, want %v", tt.purpose, ready, tt.wantReady)
		}
	}
}

// A link that falls to a quarter of what is sent is recognised from the
// arrivals at once (queue collapse): a queue of over 100 ms builds while
// packets arrive at under half their send rate. The estimate goes to GCC's
// 0.85 x the receive rate, not down by steps.
func TestEstimatorQueueCollapse(t *testing.T) {
	r := newRig(t, true, WithInitialBitrate(2_000_000))
	for range 5 { // 2.4 Mbit/s sent and received
		r.send(10, 1200, 4*time.Millisecond)
		r.feedback(4*time.Millisecond, 0)
	}
	if st := r.e.Stats(); st.Cause != "" {
		t.Fatalf("cut (%s) on a link that carries everything", st.Cause)
	}
	for range 3 { // the link falls to 600 kbit/s
		r.send(10, 1200, 4*time.Millisecond)
		r.feedback(16*time.Millisecond, 0)
	}
	st := r.e.Stats()
	if st.Cause != "queue collapse" || st.Estimate < 400_000 || st.Estimate > 600_000 {
		t.Fatalf("estimate %d (cause %q), want about 0.85 x 600 kbit/s from a queue collapse", st.Estimate, st.Cause)
	}
	if st.QueueDelay < 100*time.Millisecond {
		t.Fatalf("queue delay %v, want the queue that built", st.QueueDelay)
	}
}

// A congestion cut soon after a successful upgrade probe makes that probe
// a failure (a burst allowance carried it, not capacity): the next probe
// waits a backoff that grows with each such failure. A cut after the
// window, or after a headroom probe, changes nothing.
func TestProberDisproved(t *testing.T) {
	succeed := func(p *prober, purpose ProbePurpose, now time.Time) time.Time {
		t.Helper()
		if !p.start(100_000, purpose, now) {
			t.Fatal("probe refused")
		}
		c := &p.cur
		c.packets, c.bytes, c.haveArrival = 20, 20*1200, true
		c.firstSent, c.lastSent, c.firstSentSize, c.lastSentSize = now, now.Add(100*time.Millisecond), 1200, 1200
		c.firstArrival, c.lastArrival, c.firstSize, c.lastArrivalSize = 0, 100*time.Millisecond, 1200, 1200
		now = now.Add(probeDuration)
		p.sendingID(now)
		now = now.Add(probeSettle)
		if r, done := p.update(now); !done || !r.Success {
			t.Fatalf("result %+v (done %v), want a success", r, done)
		}
		return now
	}
	tests := []struct {
		name      string
		purpose   ProbePurpose
		cutAfter  time.Duration
		wantDelay time.Duration // until the next probe is allowed after the cut
	}{
		{"cut at once", ProbeUpgrade, 500 * time.Millisecond, 2 * time.Second},
		{"cut after the window", ProbeUpgrade, probeDisproveWindow + time.Second, 0},
		{"headroom probe", ProbeHeadroom, 500 * time.Millisecond, probeBackoffMin - 500*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p prober
			now := succeed(&p, tt.purpose, time.Unix(1000, 0))
			cut := now.Add(tt.cutAfter)
			p.disproved(cut)
			if tt.wantDelay > 0 && p.start(100_000, ProbeUpgrade, cut.Add(tt.wantDelay-time.Millisecond)) {
				t.Fatalf("a probe allowed %v after the cut, want a backoff of %v", tt.wantDelay-time.Millisecond, tt.wantDelay)
			}
			if !p.start(100_000, ProbeUpgrade, cut.Add(tt.wantDelay)) {
				t.Fatalf("no probe allowed %v after the cut", tt.wantDelay)
			}
		})
	}
	// Failures in a row double the wait, up to probeDisprovedMax.
	var p prober
	now := time.Unix(1000, 0)
	var waits []time.Duration
	for range 4 {
		now = succeed(&p, ProbeUpgrade, now)
		now = now.Add(100 * time.Millisecond)
		p.disproved(now)
		waits = append(waits, p.notBefore.Sub(now))
		now = p.notBefore
	}
	want := []time.Duration{2 * time.Second, 4 * time.Second, probeDisprovedMax, probeDisprovedMax}
	if !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	// A success that stands for the window ends the row.
	now = succeed(&p, ProbeUpgrade, now)
	now = succeed(&p, ProbeUpgrade, now.Add(probeDisproveWindow+time.Second))
	p.disproved(now.Add(100 * time.Millisecond))
	if w := p.notBefore.Sub(now.Add(100 * time.Millisecond)); w != 2*time.Second {
		t.Errorf("wait after a success that stood %v, want 2s", w)
	}
}
