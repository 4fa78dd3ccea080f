package bwe

import "time"

// The Estimator's side of probing: starting a probe, the padding it needs,
// and what its result does to the estimate (the probe clusters themselves
// are in probe.go).

// StartProbe asks for a probe toward target bit/s, for purpose (which
// decides whether its failure backs the next probes off). It returns false while
// a probe runs or during the backoff after a failed one. The caller then
// sends padding (Subscription.WritePadding) until Probing reports false.
func (e *Estimator) StartProbe(target int, purpose ProbePurpose) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.twcc {
		return false // without transport-cc a probe cannot be measured
	}
	now := e.now()
	if !e.decreasedAt.IsZero() && now.Sub(e.decreasedAt) < probeQuiet {
		// The bottleneck's queue is still draining what filled it:
		// padding now only delays the frames that are let through.
		return false
	}
	return e.probe.start(min(target, e.maxBitrate), purpose, now)
}

// Probing returns the target of the probe being sent, or ok=false.
func (e *Estimator) Probing() (target int, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	if !e.probeSending(now) {
		return 0, false
	}
	return e.probe.cur.target, true
}

// ProbeShortfall returns, while a probe is being sent, how many bytes
// everything sent since it began (media, retransmissions, padding) falls
// short of its target rate: the padding it needs now. ok is false when no
// probe is being sent.
func (e *Estimator) ProbeShortfall() (bytes int, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	if !e.probeSending(now) {
		return 0, false
	}
	return e.probe.shortfall(now), true
}

// probeSending reports whether a probe is being sent at now; when none
// is, it settles the one that ended (its result moves the estimate). e.mu
// must be held.
func (e *Estimator) probeSending(now time.Time) bool {
	if e.probe.sendingID(now) != 0 {
		return true
	}
	if r, done := e.probe.update(now); done {
		e.applyProbe(r)
	}
	return false
}

// applyProbe raises the estimate to what a finished probe proved, unless
// congestion was seen while it ran: its packets then measured a link that
// changed under them. e.mu is held.
func (e *Estimator) applyProbe(r ProbeResult) {
	if r.Bitrate <= 0 {
		return
	}
	if r.Saturated {
		// The probe measured the capacity: above it the estimate is
		// application-limited drift, and nothing validates it.
		before := e.est
		e.est = clamp(min(e.est, max(r.Bitrate, e.validated)), e.minBitrate, e.maxBitrate)
		e.validated = min(e.validated, e.est)
		if e.est < before {
			e.probe.disproved(r.At) // a cut like any other
		}
		return
	}
	if !e.decreasedAt.Before(r.Start) {
		// The link delivered the probe rate, but a queue grew on the way
		// (GCC saw over-use): take the rate with a margin rather than
		// voiding it, or a probe near the capacity never counts.
		r.Bitrate = int(probeCongestedShare * float64(r.Bitrate))
	}
	e.est = clamp(max(e.est, r.Bitrate), e.minBitrate, e.maxBitrate)
	e.validated = min(max(e.validated, r.Bitrate), e.est)
}
