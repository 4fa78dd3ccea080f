package bwe

import "time"

// Probe timing. A probe sends padding for probeDuration (cut short as soon
// as feedback shows the link saturating), then waits up to probeSettle for
// the last feedback. The probe is short so that, on a link it overshoots,
// the excess fits in the bottleneck's queue instead of being dropped with
// media: 200 ms at twice an 800 kbit/s link is 20 KB, about what a router
// buffers in 200 ms, and the feedback after the first 100 ms cuts it. Failed probes back off exponentially, capped so that a
// link that got better is found within a few seconds.
const (
	probeDuration   = 200 * time.Millisecond
	probeSettle     = 600 * time.Millisecond
	probeMinPackets = 10
	probeMinSpan    = 50 * time.Millisecond
	probeBackoffMin = time.Second
	probeBackoffMax = 4 * time.Second
	// probeDisproveWindow: a congestion cut this soon after a successful
	// upgrade probe shows the probe was carried by a burst allowance (a
	// token bucket or a queue), not by capacity. It then counts as a
	// failure, with a backoff of up to probeDisprovedMax: on a link below
	// the lowest layer each retry resumes the video, fills the queue and
	// is paused again (scenario 6 retried every 2.5-3 s).
	probeDisproveWindow = 3 * time.Second
	probeDisprovedMax   = 8 * time.Second
	// A receive rate below this fraction of the send rate means the probe
	// filled a queue: the link is saturated (libwebrtc's
	// kMinRatioForUnsaturatedLink).
	probeSaturated = 0.9
	// probeAbortRatio ends the sending early: a receive rate this far below
	// the send rate will only fill the bottleneck queue further.
	probeAbortRatio = 0.8
	// probeSaturatedShare is the part of a saturated link's measured
	// capacity the estimate takes (GCC's beta).
	probeSaturatedShare = 0.85
	// probeCongestedShare is the part of an unsaturated probe's rate that
	// counts when congestion was signalled while it ran.
	probeCongestedShare = 0.9
	// probeSuccess is the fraction of the target a probe must reach for the
	// backoff to reset.
	probeSuccess = 0.9
)

// probePhase is where a probe cluster is in its life.
type probePhase uint8

const (
	probeIdle    probePhase = iota
	probeSending            // padding goes out, packets are tagged
	probeWaiting            // sending stopped, feedback still due
)

// ProbePurpose says why a probe is sent, which decides what its failure
// costs.
type ProbePurpose uint8

const (
	// ProbeUpgrade tests the rate an allocation step needs; a failure
	// backs further probes off (the link is not there yet).
	ProbeUpgrade ProbePurpose = iota
	// ProbeHeadroom tests for room above an allocation that already has
	// all it wants; its failure changes nothing about upgrades, so it
	// does not back them off.
	ProbeHeadroom
)

// probeCluster accumulates, from transport-cc feedback, the send and
// receive timing of the packets sent during one probe, the way libwebrtc's
// ProbeBitrateEstimator does. Every packet sent while probing counts (media
// and padding): the question is whether the link carries the total.
type probeCluster struct {
	id      uint32
	phase   probePhase
	purpose ProbePurpose
	target  int
	start   time.Time
	stopped time.Time

	// sent counts the bytes of every packet sent while probing (at send).
	sent                           int
	packets, lost                  int
	firstSent, lastSent            time.Time
	firstArrival, lastArrival      time.Duration
	bytes, firstSize, lastSentSize int
	lastArrivalSize, firstSentSize int
	haveArrival                    bool
}

// observe adds one acknowledgement of a packet of this cluster.
func (c *probeCluster) observe(a ack) {
	if !a.received {
		c.lost++
		return
	}
	p := a.pkt
	c.packets++
	c.bytes += p.size
	if c.firstSent.IsZero() || p.sentAt.Before(c.firstSent) {
		c.firstSent, c.firstSentSize = p.sentAt, p.size
	}
	if p.sentAt.After(c.lastSent) {
		c.lastSent, c.lastSentSize = p.sentAt, p.size
	}
	if !c.haveArrival || a.arrival < c.firstArrival {
		c.firstArrival, c.firstSize = a.arrival, p.size
	}
	if !c.haveArrival || a.arrival > c.lastArrival {
		c.lastArrival, c.lastArrivalSize = a.arrival, p.size
	}
	c.haveArrival = true
}

// rates returns the send and receive bitrates of the packets acknowledged
// so far; ok is false until there are enough of them over a long enough
// span to mean anything.
func (c *probeCluster) rates() (send, recv int, ok bool) {
	sendSpan := c.lastSent.Sub(c.firstSent)
	recvSpan := c.lastArrival - c.firstArrival
	if c.packets < probeMinPackets || sendSpan < probeMinSpan || recvSpan <= 0 {
		return 0, 0, false
	}
	// The last packet sent and the first received say when an interval
	// starts or ends, their bytes are outside it.
	send = int(float64(c.bytes-c.lastSentSize) * 8 / sendSpan.Seconds())
	recv = int(float64(c.bytes-c.firstSize) * 8 / recvSpan.Seconds())
	return send, recv, true
}

// saturated reports, while sending, that the link already shows it cannot
// take the probe rate.
func (c *probeCluster) saturated() bool {
	send, recv, ok := c.rates()
	return ok && float64(recv) < probeAbortRatio*float64(send)
}

// result is the bitrate the probe proved, 0 when it proved nothing, and
// whether the probe saturated the link. A saturated link is rated at GCC's
// 0.85 x its receive rate (the capacity), so the allocation keeps the
// headroom GCC itself keeps; otherwise at the smaller of the two rates.
func (c *probeCluster) result() (bps int, saturated bool) {
	send, recv, ok := c.rates()
	if !ok {
		return 0, false
	}
	if float64(recv) < probeSaturated*float64(send) {
		return int(probeSaturatedShare * float64(recv)), true
	}
	return min(send, recv), false
}

// prober decides when probes may start and keeps the current cluster.
type prober struct {
	cur       probeCluster
	nextID    uint32
	notBefore time.Time
	failures  int
	last      ProbeResult
	// provenAt is when the last successful upgrade probe finished, zero
	// once a cut disproved it; disproofs counts those cuts in a row.
	provenAt  time.Time
	disproofs int
}

// ProbeResult describes the last finished probe.
type ProbeResult struct {
	Target, Bitrate int
	Purpose         ProbePurpose
	// Success: the probe reached most of its target; Saturated: it found
	// the link's capacity below the probe rate (Bitrate is then based on it).
	Success, Saturated bool
	// Start and At are when the probe began and when it was evaluated.
	Start, At time.Time
}

// start begins a probe toward target unless one runs or the backoff after
// a failed one has not passed.
func (p *prober) start(target int, purpose ProbePurpose, now time.Time) bool {
	if p.cur.phase != probeIdle || now.Before(p.notBefore) {
		return false
	}
	p.nextID++
	p.cur = probeCluster{id: p.nextID, phase: probeSending, purpose: purpose, target: target, start: now}
	return true
}

// shortfall is how many bytes the packets sent since the probe began fall
// short of its target rate; now is within the sending phase.
func (p *prober) shortfall(now time.Time) int {
	elapsed := min(now.Sub(p.cur.start), probeDuration)
	return int(float64(p.cur.target)*elapsed.Seconds()/8) - p.cur.sent
}

// sendingID is the cluster id to tag a packet sent now with, 0 when not
// probing. It ends the sending phase when the probe has lasted long enough.
func (p *prober) sendingID(now time.Time) uint32 {
	if p.cur.phase != probeSending {
		return 0
	}
	if now.Sub(p.cur.start) >= probeDuration {
		p.stopSending(p.cur.start.Add(probeDuration))
		return 0
	}
	return p.cur.id
}

func (p *prober) stopSending(now time.Time) {
	p.cur.phase = probeWaiting
	p.cur.stopped = now
}

// observe routes an acknowledgement to the current cluster.
func (p *prober) observe(a ack) {
	if p.cur.phase != probeIdle && a.pkt.probe == p.cur.id {
		p.cur.observe(a)
	}
}

// update runs after each feedback: it cuts a saturating probe short and
// finishes a probe whose feedback is complete. It returns the finished
// probe's result, if one finished now.
func (p *prober) update(now time.Time) (ProbeResult, bool) {
	switch p.cur.phase {
	case probeSending:
		if p.cur.saturated() {
			p.stopSending(now)
		}
		return ProbeResult{}, false
	case probeWaiting:
		if now.Sub(p.cur.stopped) < probeSettle {
			return ProbeResult{}, false
		}
	default:
		return ProbeResult{}, false
	}
	r := ProbeResult{Target: p.cur.target, Purpose: p.cur.purpose, Start: p.cur.start, At: now}
	r.Bitrate, r.Saturated = p.cur.result()
	r.Success = float64(r.Bitrate) >= probeSuccess*float64(r.Target)
	p.cur.phase = probeIdle
	switch {
	case r.Success:
		p.failures = 0
		p.notBefore = now.Add(probeBackoffMin)
		if r.Purpose == ProbeUpgrade {
			if !p.provenAt.IsZero() && now.Sub(p.provenAt) > probeDisproveWindow {
				p.disproofs = 0 // the previous success stood
			}
			p.provenAt = now
		}
	case r.Purpose == ProbeHeadroom:
		p.notBefore = now
	default:
		p.failures++
		backoff := probeBackoffMin << min(p.failures, 4)
		p.notBefore = now.Add(min(backoff, probeBackoffMax))
	}
	p.last = r
	return r, true
}

// disproved is called at a congestion cut of the estimate. Soon after a
// successful upgrade probe, the cut makes that probe a failure: the next
// one waits a backoff that doubles with each such failure in a row (a
// success that stood for the window ends the row).
func (p *prober) disproved(now time.Time) {
	if p.provenAt.IsZero() {
		return
	}
	stood := now.Sub(p.provenAt) > probeDisproveWindow
	p.provenAt = time.Time{}
	if stood {
		p.disproofs = 0
		return
	}
	p.disproofs++
	backoff := min(probeBackoffMin<<min(p.disproofs, 4), probeDisprovedMax)
	p.notBefore = later(p.notBefore, now.Add(backoff))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
