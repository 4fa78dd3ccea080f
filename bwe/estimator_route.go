package bwe

// RouteChanged starts the estimate over for a new path: after an ICE
// restart or a switch to another candidate pair (a phone moving from
// Wi-Fi to mobile data, a fallback to a TURN relay), what was measured on
// the old path says nothing of the new one. The proven capacity would let
// the allocator upgrade without a probe, and the base one-way delay of the
// old path would read a longer new one as a standing queue for up to two
// queueWindows. Like libwebrtc on a route change, the estimate goes back to
// its initial value, but never up: a path that carried less keeps its
// lower estimate until probes show more. GCC's own state stays (pion's
// SendSideBWE cannot be reset); it is bounded by the windows cleared here.
func (e *Estimator) RouteChanged() {
	e.mu.Lock()
	e.est = min(e.est, e.initial)
	e.validated = min(e.validated, e.est)
	e.resetPath()
	e.probe = prober{nextID: e.probe.nextID, last: e.probe.last}
	e.cause = "route changed"
	est, cb := e.est, e.onChange
	e.mu.Unlock()
	select {
	case e.changed <- struct{}{}:
	default:
	}
	if cb != nil {
		cb(est)
	}
}
