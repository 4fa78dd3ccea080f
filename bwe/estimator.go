package bwe

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// TransportCCURI is the transport-wide sequence number header extension the
// send-side estimator needs on every packet (the URI pion's gcc matches).
const TransportCCURI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

// Defaults of an Estimator.
const (
	defaultInitialBitrate = 1_000_000
	defaultMinBitrate     = 100_000
	defaultMaxBitrate     = 20_000_000
	// ackedWindow is the span of the acknowledged-bitrate measurement.
	ackedWindow = 500 * time.Millisecond
	// recentWindow is the span of the rate a decrease cuts to.
	recentWindow = 250 * time.Millisecond
	// appLimitedFactor and appLimitedSlack bound growth while the sender
	// has less to send than the estimate: libwebrtc's AimdRateControl
	// never raises its estimate above 1.5 x throughput + 10 kbit/s.
	appLimitedFactor = 1.5
	appLimitedSlack  = 10_000
	// heavyLoss is the loss fraction above which the estimate drops to the
	// acknowledged bitrate at once (GCC's own loss controller waits 200 ms
	// per 0.5 x loss step; by then a keyframe is gone).
	heavyLoss = 0.10
	// validLoss is the loss fraction under which delivered bitrate counts
	// as proven capacity.
	validLoss = 0.05
	// gccBeta is GCC's multiplicative decrease (draft-ietf-rmcat-gcc-02
	// section 5.5).
	gccBeta = 0.85
	// retransmitShare is the least of the estimate left to retransmissions.
	retransmitShare = 0.1
	// collapseLoss and collapseShare recognise a link that got much slower:
	// more than a quarter of the packets lost while the acknowledged rate
	// is under half the estimate. The estimate then drops to what gets
	// through at once.
	collapseLoss  = 0.25
	collapseShare = 0.5
	// collapseQueue is the queueing delay that, with arrivals at under
	// collapseShare of the send rate, marks a collapsed link at once
	// (queueCollapse): a receiver's scheduling hiccup shows as a short
	// gap, not as 100 ms of steadily growing delay.
	collapseQueue = 100 * time.Millisecond
	// probeQuiet is how long after congestion cut the estimate no probe
	// starts.
	probeQuiet = time.Second
	// lossCutInterval spaces loss-based decreases (about an RTT plus a
	// feedback interval).
	lossCutInterval = 300 * time.Millisecond
	// rembTimeout is how long a receiver estimate stays valid.
	rembTimeout = 5 * time.Second
)

// EstimatorStats is a snapshot of one Estimator.
type EstimatorStats struct {
	// Estimate is the usable estimate (bit/s) the allocator spends.
	Estimate int
	// GCC is pion's send-side GCC delay-based target, before hibiki's
	// corrections.
	GCC int
	// Acked is the bitrate the receiver acknowledged over the last 500 ms;
	// Sent what was sent (media, retransmissions, padding), averaged.
	Acked, Sent int
	// Loss is the fraction of packets reported lost over the same window.
	Loss float64
	// REMB is the receiver's own estimate (0 when none).
	REMB int
	// Validated is the highest bitrate recently delivered without
	// congestion (or proven by a probe), never above Estimate.
	Validated int
	// Probing is set while a probe is being sent; ProbeTarget is its goal.
	Probing     bool
	ProbeTarget int
	// LastProbe is the result of the most recent finished probe.
	LastProbe ProbeResult
	// TWCC reports that transport-cc is negotiated on some stream.
	TWCC bool
	// DecreasedAt is when congestion (over-use or loss) last cut the
	// estimate; zero if never. Cause says which signal did.
	DecreasedAt time.Time
	Cause       string
	// QueueDelay is how long a packet sent now would wait in queues on
	// the path: the newest acknowledged packet's one-way delay over the
	// recent minimum, grown by what was sent since beyond what the path
	// delivers.
	QueueDelay time.Duration
}

// Estimator is the bandwidth estimate of one subscribe connection. It is a
// cc.BandwidthEstimator wrapping pion's gcc.SendSideBWE: GCC keeps running
// on the transport-cc feedback unchanged, and the Estimator adds what an
// SFU needs on top (see docs/bwe.md): the estimate only grows with what the
// receiver acknowledged (application-limited hold), drops at once on heavy
// loss, is raised by probe results, and falls back to the receiver's REMB
// when transport-cc is not negotiated.
type Estimator struct {
	gcc *gcc.SendSideBWE
	now func() time.Time

	initial, minBitrate, maxBitrate int

	mu        sync.Mutex
	hist      sendHistory
	acked     rateWindow
	recent    rateWindow  // the last recentWindow, for decreases
	arrivals  arrivalRate // receive rate on the receiver's clock
	queue     queueDelay
	acks      []ack
	twcc      bool
	remb      int
	rembAt    time.Time
	est       int
	validated int
	rawPrev   int
	// decreasedAt is the last time congestion cut the estimate, lossCutAt
	// the last time loss did.
	decreasedAt, lossCutAt time.Time
	cause                  string
	probe                  prober
	ackedBps               int
	loss                   float64
	allocated              int // media the allocator spends (SetAllocated)
	// Data-channel bytes handed to SCTP since the last feedback, and
	// their rate (estimator_data.go).
	dataBytes int
	data      rateWindow
	// Sent bitrate: bytes written since sentAt, averaged at each feedback.
	sentBytes int
	sentAt    time.Time
	sentBps   int

	changed  chan struct{}
	onChange func(int)
}

var _ cc.BandwidthEstimator = (*Estimator)(nil)

// NewEstimator builds an Estimator. Most callers use an EstimatorFactory,
// which registers it through pion's cc interceptor.
func NewEstimator(opts ...EstimatorOption) (*Estimator, error) {
	e := &Estimator{
		now:        time.Now,
		initial:    defaultInitialBitrate,
		minBitrate: defaultMinBitrate,
		maxBitrate: defaultMaxBitrate,
		changed:    make(chan struct{}, 1),
	}
	e.resetPath()
	for _, opt := range opts {
		if err := opt(e); err != nil {
			return nil, err
		}
	}
	if e.minBitrate > e.initial || e.initial > e.maxBitrate {
		return nil, fmt.Errorf("%w: need min <= initial <= max bitrate", ErrInvalidOption)
	}
	// No pacer: the SFU forwards frames the publisher already paced, and
	// pion's LeakyBucketPacer queues without a bound, copying every packet
	// (see docs/bwe.md). The allocator keeps the sum below the estimate.
	g, err := gcc.NewSendSideBWE(
		gcc.SendSideBWEInitialBitrate(e.initial),
		gcc.SendSideBWEMinBitrate(e.minBitrate),
		gcc.SendSideBWEMaxBitrate(e.maxBitrate),
		gcc.SendSideBWEPacer(gcc.NewNoOpPacer()),
	)
	if err != nil {
		return nil, fmt.Errorf("gcc: %w", err)
	}
	e.gcc = g
	e.est, e.validated, e.rawPrev = e.initial, e.initial, e.initial
	return e, nil
}

// AddStream implements cc.BandwidthEstimator: pion's GCC wraps the writer
// (it records send times for its feedback adapter) and the Estimator
// records size, send time and probe tag by transport-wide sequence number.
func (e *Estimator) AddStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	var id uint8
	for _, x := range info.RTPHeaderExtensions {
		if x.URI == TransportCCURI {
			id = uint8(x.ID)
		}
	}
	inner := e.gcc.AddStream(info, writer)
	if id == 0 {
		return inner
	}
	e.mu.Lock()
	e.twcc = true
	e.mu.Unlock()
	var top seqTracker // this stream's newest RTP sequence number, under e.mu
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if ext := h.GetExtension(id); len(ext) == 2 {
			seq := binary.BigEndian.Uint16(ext)
			size := h.MarshalSize() + len(payload) + int(h.PaddingSize)
			e.mu.Lock()
			now := e.now()
			probe := e.probe.sendingID(now)
			if probe != 0 {
				e.probe.cur.sent += size
			}
			e.hist.add(seq, size, now, probe, !top.advance(h.SequenceNumber))
			e.sentBytes += size
			e.mu.Unlock()
		}
		return inner.Write(h, payload, a)
	})
}

// WriteRTCP implements cc.BandwidthEstimator: feedback goes to GCC, then
// to the Estimator's own measurements.
func (e *Estimator) WriteRTCP(pkts []rtcp.Packet, attrs interceptor.Attributes) error {
	if err := e.gcc.WriteRTCP(pkts, attrs); err != nil {
		return fmt.Errorf("gcc feedback: %w", err)
	}
	e.mu.Lock()
	now := e.now()
	feedback := false
	for _, pkt := range pkts {
		switch fb := pkt.(type) {
		case *rtcp.TransportLayerCC:
			e.onTWCC(fb, now)
			feedback = true
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			// Clamped before the conversion: a float beyond int's range
			// (REMB can say 4.8e24 bit/s) converts to garbage.
			e.remb, e.rembAt = int(min(max(fb.Bitrate, 0), float32(e.maxBitrate))), now
			feedback = true
		}
	}
	var old, cur int
	if feedback {
		old = e.est
		e.update(now)
		cur = e.est
	}
	cb := e.onChange
	e.mu.Unlock()
	if feedback && cur != old {
		select {
		case e.changed <- struct{}{}:
		default:
		}
		if cb != nil {
			cb(cur)
		}
	}
	return nil
}

// onTWCC accounts one transport-cc feedback; e.mu is held.
func (e *Estimator) onTWCC(fb *rtcp.TransportLayerCC, now time.Time) {
	e.acks = parseTWCC(fb, &e.hist, e.acks[:0])
	bytes, received, lost := 0, 0, 0
	for _, a := range e.acks {
		switch {
		case a.received:
			bytes += a.pkt.size
			if !a.pkt.resend {
				received++
			}
			e.arrivals.add(a.arrival, a.pkt.size, a.pkt.sentAt)
			e.queue.add(a.arrival, a.pkt.sentAt, now)
		case a.pkt.resend:
			// A retransmission repeats the RTP sequence number of its
			// original (no RTX). When the original only came late, or a
			// receiver NACKed again before the first copy arrived (a
			// loopback RTT is shorter than a busy server's reaction), the
			// receiver's SRTP replay check drops the copy before its
			// transport-cc sees it: reported lost, though the link lost
			// nothing. Seen with Chromium: bursts of 30-70 % "loss", all of
			// it repeated sequence numbers, that collapsed the estimate to
			// its floor and paused video (docs/bwe.md). A congested link
			// loses new packets too, and those still count.
		case a.pkt.probe == 0 && a.pkt.sentAt.After(e.decreasedAt):
			// Packets sent during a probe are left out of the loss: a
			// probe that overshoots fills the bottleneck's queue on
			// purpose, and its result already says so (saturated).
			// Losses of packets sent before the latest cut are left
			// out too: they were sent at the old rate, and counting
			// them (they are reported up to a queue's delay later)
			// would cut the estimate again for the same congestion.
			lost++
		}
		e.probe.observe(a)
	}
	e.acked.add(now, bytes, received, lost)
	e.recent.add(now, bytes, received, lost)
}

// update recomputes the usable estimate after feedback; e.mu is held.
func (e *Estimator) update(now time.Time) {
	if !e.twcc {
		if e.remb > 0 && now.Sub(e.rembAt) < rembTimeout {
			e.est = clamp(e.remb, e.minBitrate, e.maxBitrate)
			e.validated = e.est
		}
		return
	}
	if dt := now.Sub(e.sentAt); dt >= 100*time.Millisecond {
		if !e.sentAt.IsZero() {
			e.sentBps = (e.sentBps + int(float64(e.sentBytes)*8/dt.Seconds())) / 2
		}
		e.sentBytes, e.sentAt = 0, now
	}
	raw, overuse := delayTarget(e.gcc)
	data := e.dataRate(now)
	acked, loss, ok := e.acked.rate(now)
	e.ackedBps, e.loss = acked, loss
	if cut, ok := e.queueCollapse(); ok {
		e.est, e.cause = cut, "queue collapse"
		e.decreased(now)
	} else if raw < e.rawPrev && overuse {
		// GCC saw over-use (a growing queue). When the path held back what
		// was sent (received slower than sent), the bottleneck delivers
		// what arrives now: cut to GCC's 0.85 x that, measured over the
		// last 250 ms. GCC's own level is not used: its received rate
		// spans 500 ms, half of it from before a sudden drop, and after a
		// probe raised the estimate its level lags far below.
		//
		// When the receiver got the packets as fast as they were sent,
		// the receive rate is only what was offered: media that has just
		// started or resumed (a track back from a direct P2P path, a
		// publisher back from an ICE restart) or a low layer. Cutting to
		// it took the estimate to its floor at once and paused the video,
		// on a link with room to spare; the delay signal then gets GCC's
		// multiplicative decrease of the estimate itself, again at each
		// new over-use while the queue keeps growing.
		//
		// Data-channel bytes crossed the same bottleneck unseen (SCTP
		// fills its queue): they count as received and sent, or a file
		// transfer's queue cut the estimate to the media alone.
		recv, sent, sok := e.arrivals.rates()
		e.est = overuseCut(e.est, recv+data, sent+data, sok)
		e.cause = fmt.Sprintf("overuse: received %d of %d bit/s sent, data %d bit/s", recv, sent, data)
		e.decreased(now)
	} else if ok && loss <= heavyLoss {
		limit := int(appLimitedFactor*float64(acked)) + appLimitedSlack
		e.est = max(e.est, min(raw, limit))
	}
	e.rawPrev = raw
	if ok && loss > heavyLoss && now.Sub(e.lossCutAt) >= lossCutInterval {
		// libwebrtc's loss-based rule: est x (1 - loss/2), at most once
		// per interval so one burst is not counted again in every report
		// of the window. Cutting straight to the acknowledged rate on any
		// loss would spiral down while the sender has little to send (a
		// lower estimate lowers the allocation, which lowers what is
		// acknowledged next).
		cut := int(float64(e.est) * (1 - loss/2))
		if short, sok := e.shortRate(now); sok && loss > collapseLoss && float64(short) < collapseShare*float64(e.est) {
			// Heavy loss while far less than the estimate gets through:
			// the link got much slower. Waiting for several cuts of a
			// few tens of percent keeps overfilling its queue, and every
			// frame sent meanwhile is lost.
			cut = min(cut, short)
			e.cause = "collapse"
		} else {
			e.cause = "loss"
		}
		e.est, e.lossCutAt = cut, now
		e.decreased(now)
	}
	if ok && loss < validLoss {
		e.validated = max(e.validated, acked)
	}
	if r, done := e.probe.update(now); done {
		e.applyProbe(r)
	}
	e.est = clamp(e.est, e.minBitrate, e.maxBitrate)
	e.validated = min(e.validated, e.est)
}

// resetPath empties what the Estimator measured of the path: the rate
// windows, the queue delay and its base, and the rates derived from them.
// A new Estimator starts so, and RouteChanged starts so again.
func (e *Estimator) resetPath() {
	e.acked = newRateWindow(ackedWindow)
	e.recent = newRateWindow(recentWindow)
	e.arrivals = newArrivalRate(recentWindow)
	e.data = newRateWindow(dataWindow)
	e.queue = queueDelay{}
	e.ackedBps, e.loss = 0, 0
}

// recentCut reports whether a congestion cut at decreasedAt (zero: never)
// is within congestionMemory of now: the allocator may then downgrade at
// once, and the data pacer keeps to the spare.
func recentCut(decreasedAt, now time.Time) bool {
	return !decreasedAt.IsZero() && now.Sub(decreasedAt) < congestionMemory
}

// decreased records a congestion cut of the estimate made at now: no probe
// starts for probeQuiet, and an upgrade probe that succeeded just before
// is disproved by it. e.mu is held.
func (e *Estimator) decreased(now time.Time) {
	e.decreasedAt = now
	e.probe.disproved(now)
}

// queueCollapse recognises a link that became much slower from the first
// feedback on it, before GCC's trend line does (scenario 3: GCC signalled
// 0.4-0.5 s after a 5 Mbit/s link fell to 300 kbit/s, by when its queue
// was full and a freeze unavoidable): the newest 250 ms of arrivals came
// in at under half the rate they were sent at while a queue of
// collapseQueue built. It returns GCC's 0.85 x the receive rate when that
// is below the estimate. A probe is left out: it sends above the link on
// purpose and is judged on its own. e.mu is held.
func (e *Estimator) queueCollapse() (int, bool) {
	if e.probe.cur.phase != probeIdle || e.queue.delay() < collapseQueue {
		return 0, false
	}
	recv, sent, ok := e.arrivals.rates()
	if !ok || float64(recv) >= collapseShare*float64(sent) {
		return 0, false
	}
	cut := int(gccBeta * float64(recv))
	return cut, cut < e.est
}

// overuseCut is the estimate after an over-use signal: 0.85 x the receive
// rate when the path received the packets slower than they were sent
// (saturated, ok), else 0.85 x the larger of the estimate and the receive
// rate, never above the estimate (see update). The receive rate is above
// the estimate, unsaturated, when a probe's overshoot grew the queue that
// GCC saw: the path just delivered that rate, so the estimate keeps it
// (a cut to 0.85 x the estimate there took scenario 4's speaker off its
// layer late in the run).
func overuseCut(est, recv, sent int, ok bool) int {
	if !ok {
		return int(gccBeta * float64(est))
	}
	if float64(recv) < probeSaturated*float64(sent) {
		return min(est, int(gccBeta*float64(recv)))
	}
	return min(est, int(gccBeta*float64(max(est, recv))))
}

// shortRate is what the path delivers now: the receive rate over the
// newest recentWindow of arrivals (on the receiver's clock), or failing
// that the rate acknowledged over the last recentWindow. e.mu is held.
func (e *Estimator) shortRate(now time.Time) (int, bool) {
	if r, ok := e.arrivals.rate(); ok {
		return r, true
	}
	r, _, ok := e.recent.rate(now)
	return r, ok
}

// queueNow is the queueing delay a packet sent now meets (queueDelay.now
// with the newest 250 ms of arrivals). e.mu is held.
func (e *Estimator) queueNow(now time.Time) time.Duration {
	recv, sent, ok := e.arrivals.rates()
	if !ok {
		recv, sent = 0, 0
	}
	return e.queue.now(now, recv, sent)
}

func clamp(v, lo, hi int) int { return max(lo, min(hi, v)) }

// seqTracker follows the newest RTP sequence number written on one stream.
type seqTracker struct {
	newest  uint16
	started bool
}

// advance records seq and reports whether it is newer than every sequence
// number before it (false for a retransmission).
func (t *seqTracker) advance(seq uint16) bool {
	if t.started && int16(seq-t.newest) <= 0 {
		return false
	}
	t.newest, t.started = seq, true
	return true
}

// delayTarget is pion GCC's delay-based target. Its loss-based controller is
// left out: it judges each feedback report alone (about 15 packets at
// 1.5 Mbit/s), so 2 % random loss regularly shows as a report over its 10 %
// threshold and halves the estimate. The Estimator applies the same
// thresholds to the loss over 500 ms instead (update).
//
// overuse reports that GCC's rate controller is in its decrease state
// (its over-use detector saw the queue grow). Only then is a lower target
// congestion: in the increase state pion also lowers the target to 1.5 x
// the received rate whenever that is less, which is the sender having
// little to send, and cutting on it spirals down (a lower estimate lowers
// the allocation, which lowers the received rate).
func delayTarget(g *gcc.SendSideBWE) (bps int, overuse bool) {
	st := g.GetStats()
	overuse = fmt.Sprint(st["state"]) == "decrease"
	if v, ok := st["delayTargetBitrate"].(int); ok && v > 0 {
		return v, overuse
	}
	return g.GetTargetBitrate(), overuse
}

// GetTargetBitrate implements cc.BandwidthEstimator. pion's cc
// interceptor hands this method to the NACK responder, which caps
// retransmissions at it; every other reader uses Stats. So it returns the
// retransmission budget: what the estimate leaves beside the allocated
// media (SetAllocated), and at least retransmitShare of the estimate.
// Returning the whole estimate, as pion's GCC does, lets retransmissions
// double the send rate on a full link and keep it full.
func (e *Estimator) GetTargetBitrate() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return max(e.est-e.allocated, int(retransmitShare*float64(e.est)))
}

// Estimate is the usable estimate (bit/s), what Stats reports as Estimate,
// without the cost of a full snapshot.
func (e *Estimator) Estimate() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.est
}

// SetAllocated tells the estimator what the allocator spends on media.
func (e *Estimator) SetAllocated(bps int) {
	e.mu.Lock()
	e.allocated = bps
	e.mu.Unlock()
}

// OnTargetBitrateChange implements cc.BandwidthEstimator.
func (e *Estimator) OnTargetBitrateChange(f func(bitrate int)) {
	e.mu.Lock()
	e.onChange = f
	e.mu.Unlock()
}

// GetStats implements cc.BandwidthEstimator: GCC's statistics plus the
// Estimator's own.
func (e *Estimator) GetStats() map[string]any {
	out := e.gcc.GetStats()
	s := e.Stats()
	out["estimate"] = s.Estimate
	out["acked"] = s.Acked
	out["loss"] = s.Loss
	out["validated"] = s.Validated
	out["remb"] = s.REMB
	return out
}

// Stats returns a snapshot.
func (e *Estimator) Stats() EstimatorStats {
	raw, _ := delayTarget(e.gcc)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	return EstimatorStats{
		Estimate: e.est, GCC: raw, Acked: e.ackedBps, Sent: e.sentBps, Loss: e.loss, REMB: e.remb,
		Validated: e.validated, Probing: e.probe.cur.phase == probeSending,
		ProbeTarget: e.probe.cur.target, LastProbe: e.probe.last, TWCC: e.twcc,
		DecreasedAt: e.decreasedAt, Cause: e.cause, QueueDelay: e.queueNow(now),
	}
}

// Changed is signalled (never blocking, coalesced) when the estimate moves.
func (e *Estimator) Changed() <-chan struct{} { return e.changed }

// Close implements cc.BandwidthEstimator.
func (e *Estimator) Close() error {
	if err := e.gcc.Close(); err != nil {
		return fmt.Errorf("close gcc: %w", err)
	}
	return nil
}
