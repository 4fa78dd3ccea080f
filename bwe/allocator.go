package bwe

import (
	"context"
	"log/slog"
	"time"
)

// Subscription is what the allocator needs from one subscribed track;
// hibiki's sfu.DownTrack satisfies it.
type Subscription interface {
	// Info returns a snapshot of the track's allocation inputs.
	Info() SubscriptionInfo
	// SetTarget applies an allocation (see Target).
	SetTarget(t Target)
	// WritePadding sends up to about bytes of RTP padding on the track's
	// stream, only right after a complete frame; it returns what it sent.
	WritePadding(bytes int) int
}

// Target is one allocation decision for a subscription.
type Target struct {
	// Spatial is the layer ceiling under the tile's own choice, or a pause
	// when < 0 (the subscriber must be told); Temporal is the highest
	// temporal layer (-1: all).
	Spatial, Temporal int
	// Immediate asks a downgrade to stop forwarding the present layer at
	// once instead of at the lower layer's keyframe: the link is over its
	// estimate, and every packet more of the old layer delays that
	// keyframe and costs loss.
	Immediate bool
	// Hold, with Immediate, is how long the switch to the lower layer
	// waits before asking for and taking its keyframe, so the queue the
	// old layer filled at the bottleneck has room for it: a keyframe sent
	// into a full drop-tail queue loses its tail there, and the
	// retransmissions wait for a second queue's delay (see
	// maxKeyframeHold).
	Hold time.Duration
}

// BandwidthSource is the estimate an Allocator spends; *Estimator is one.
type BandwidthSource interface {
	Stats() EstimatorStats
	// Changed is signalled when the estimate moves.
	Changed() <-chan struct{}
	// StartProbe starts a probe (see Estimator); ProbeShortfall says,
	// while one is being sent, how many bytes of padding it needs now.
	StartProbe(target int, purpose ProbePurpose) bool
	ProbeShortfall() (bytes int, ok bool)
	// SetAllocated reports what the allocation spends, so retransmissions
	// are held to the rest.
	SetAllocated(bps int)
}

// TrackAllocation is one track's line in AllocatorStats.
type TrackAllocation struct {
	TrackID           string
	Audio             bool
	Spatial, Temporal int
	BitrateBps        int
	Paused            bool
}

// AllocatorStats is what an Allocator reports periodically.
type AllocatorStats struct {
	At        time.Time
	Estimator EstimatorStats
	// AllocatedBps is the expected cost of the current allocation.
	AllocatedBps int
	Tracks       []TrackAllocation
}

// Allocator defaults.
const (
	defaultAllocInterval = 100 * time.Millisecond
	defaultStatsInterval = 2 * time.Second
	padInterval          = 10 * time.Millisecond
	// probeHeadroom is how far above the next allocation step a probe
	// aims, so the step is taken with margin, not at the edge.
	probeHeadroom = 1.05
	// congestionMemory is how long after the estimator cut its estimate
	// an allocation over it counts as congestion.
	congestionMemory = 2 * time.Second
	// budgetShare is the part of the estimate the allocation may spend.
	// The estimate is what the link carried; spending all of it leaves no
	// room for a keyframe burst or for layer bitrates above their average,
	// so the queue at the bottleneck would never drain (libwebrtc keeps a
	// similar margin between its estimate and the encoders' targets).
	budgetShare = 0.9
	// probeMaxFactor caps a probe at this multiple of the estimate
	// (libwebrtc probes at 2x in its application-limited region).
	probeMaxFactor = 2
	// headroomFactor is how far above a complete allocation its headroom
	// probe aims (libwebrtc's second allocation probe).
	headroomFactor = 2
	// headroomInterval is how often a headroom probe may be repeated for
	// an unchanged allocation (200 ms of padding every 30 s).
	headroomInterval = 30 * time.Second
	// maxKeyframeHold bounds Target.Hold. The hold only has to free room
	// for the keyframe at the full queue's tail: 250 ms of a 300 kbit/s
	// link is 9 KB, three low-layer keyframes. What is queued ahead of
	// the keyframe drains first in any case, so holding for the whole
	// queue only left the link idle before it (scenario 3: lowest layer
	// after 1.7-2.0 s with the whole queue as hold, 1.5-1.6 s with 250 ms).
	maxKeyframeHold = 250 * time.Millisecond
	// immediateMinQueue is the standing queue below which a congested
	// downgrade still waits for the lower layer's keyframe. Cutting the
	// old layer at once pays a freeze of one keyframe round trip (through
	// a relay, two hops and the publisher's encoder) to keep the old
	// layer's packets from queueing ahead of that keyframe; with less
	// than this queued they delay it by less than the freeze costs. An
	// over-use read from jitter (a loaded host stalling its reads) has no
	// standing queue, and it froze the video for nothing.
	immediateMinQueue = 100 * time.Millisecond
	// keepSlack is the tolerance (fraction of the estimate) for keeping a
	// present layer, against flapping on measurement noise.
	keepSlack = 0.2
)

// Allocator turns one subscriber's bandwidth estimate into layer targets
// for its tracks. All its work happens on the one goroutine of Run: events
// (estimate changes, Trigger, ticks) are handled in turn, so nothing in it
// needs a lock.
type Allocator struct {
	src  BandwidthSource
	subs func() []Subscription
	wake chan struct{}

	dominant      func() string
	sink          func(AllocatorStats)
	now           func() time.Time
	interval      time.Duration
	statsInterval time.Duration
	log           *slog.Logger

	// Owned by Run.
	loggedEst   int
	loggedProbe time.Time
	applied     map[string]Allocation
	// headroomFor is the allocation total the last headroom probe was
	// started for, and headroomAt when (see headroomProbe).
	headroomFor int
	headroomAt  time.Time
}

// NewAllocator builds an allocator spending src across the subscriptions
// subs returns (called on every allocation round).
func NewAllocator(src BandwidthSource, subs func() []Subscription, opts ...AllocatorOption) (*Allocator, error) {
	a := &Allocator{
		src: src, subs: subs, wake: make(chan struct{}, 1),
		dominant:      func() string { return "" },
		now:           time.Now,
		interval:      defaultAllocInterval,
		statsInterval: defaultStatsInterval,
		applied:       make(map[string]Allocation),
	}
	for _, opt := range opts {
		if err := opt(a); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Trigger asks for an allocation round now (a subscription or a tile size
// changed); it never blocks.
func (a *Allocator) Trigger() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Run is the allocator's event loop; it returns when ctx ends.
func (a *Allocator) Run(ctx context.Context) {
	tick := time.NewTicker(a.interval)
	defer tick.Stop()
	stats := time.NewTicker(a.statsInterval)
	defer stats.Stop()
	var pad *time.Ticker
	defer func() {
		if pad != nil {
			pad.Stop()
		}
	}()
	for {
		var padC <-chan time.Time
		if pad != nil {
			padC = pad.C
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			a.allocate()
		case <-a.src.Changed():
			a.allocate()
		case <-a.wake:
			a.allocate()
		case <-stats.C:
			if a.sink != nil {
				a.sink(a.Snapshot())
			}
		case <-padC:
			a.pad()
		}
		_, probing := a.src.ProbeShortfall()
		switch {
		case probing && pad == nil:
			pad = time.NewTicker(padInterval)
		case !probing && pad != nil:
			pad.Stop()
			pad = nil
		}
	}
}

// allocate runs one allocation round.
func (a *Allocator) allocate() {
	subs := a.subs()
	infos := make([]SubscriptionInfo, len(subs))
	cur := make([]Allocation, len(subs))
	for i, s := range subs {
		infos[i] = s.Info()
		c, ok := a.applied[infos[i].TrackID]
		if !ok {
			c = Allocation{Skip: true}
		}
		cur[i] = c
	}
	st := a.src.Stats()
	a.logEstimate(st)
	dom := a.dominant()
	budget := int(budgetShare * float64(st.Estimate))
	next := Allocate(budget, infos, dom, cur, int(keepSlack*float64(budget)))
	curTotal := costNow(infos, cur)
	newTotal := Total(next)
	// Over the estimate by more than the keep tolerance: a real drop, not
	// measurement noise.
	// Only then is a downgrade immediate (the old layer cut before the new
	// one's keyframe, a short freeze): over the estimate without a recent
	// congestion signal is a start-up or an estimate that has not grown
	// yet, and the switch can wait for the keyframe.
	congested := float64(curTotal) > (1+keepSlack)*float64(budget) &&
		recentCut(st.DecreasedAt, a.now()) &&
		st.QueueDelay >= immediateMinQueue
	if anyUpgrade(infos, next, cur) && newTotal > max(st.Validated, curTotal) {
		// More than the link has been seen to carry: keep every track where
		// it is (new ones start at their lowest step) and probe first. An
		// upgrade paid for by downgrades (the speaker's video taking over
		// from another track) spends nothing new and needs no probe.
		limitUpgrades(infos, next, cur)
		a.probe(newTotal, budget)
	} else if step, ok := nextStep(infos, next, dom); ok && step > budget {
		a.probe(step, budget)
	} else if !ok {
		a.headroomProbe(newTotal, st)
	}
	seen := make(map[string]bool, len(subs))
	for i, s := range subs {
		id := infos[i].TrackID
		seen[id] = true
		n := next[i]
		if n.Skip || infos[i].Audio {
			delete(a.applied, id)
			continue
		}
		if old, ok := a.applied[id]; ok && old.Spatial == n.Spatial && old.Temporal == n.Temporal {
			a.applied[id] = n // refresh the cost
			continue
		}
		tg := Target{Spatial: n.Spatial, Temporal: n.Temporal, Immediate: congested}
		if congested {
			tg.Hold = min(st.QueueDelay, maxKeyframeHold)
		}
		s.SetTarget(tg)
		a.logTarget(id, n, congested, st)
		a.applied[id] = n
	}
	for id := range a.applied {
		if !seen[id] {
			delete(a.applied, id)
		}
	}
	a.src.SetAllocated(Total(next))
}

// logTarget logs one SetTarget at debug level.
func (a *Allocator) logTarget(id string, n Allocation, immediate bool, st EstimatorStats) {
	if a.log == nil {
		return
	}
	a.log.Debug("bwe target", "track", id, "spatial", n.Spatial, "temporal", n.Temporal,
		"bps", n.BitrateBps, "immediate", immediate, "estimate", st.Estimate, "validated", st.Validated,
		"acked", st.Acked, "loss", st.Loss, "queue", st.QueueDelay)
}

// logEstimate logs, at debug level, an estimate that moved by more than a
// tenth since the last one logged.
func (a *Allocator) logEstimate(st EstimatorStats) {
	if a.log == nil {
		return
	}
	if p := st.LastProbe; !p.At.IsZero() && !p.At.Equal(a.loggedProbe) {
		a.loggedProbe = p.At
		a.log.Debug("bwe probe done", "purpose", p.Purpose, "target", p.Target, "bitrate", p.Bitrate, "success", p.Success,
			"saturated", p.Saturated, "estimate", st.Estimate)
	}
	if st.Estimate*10 > a.loggedEst*9 && st.Estimate*10 < a.loggedEst*11 {
		return
	}
	a.loggedEst = st.Estimate
	var since time.Duration
	if !st.DecreasedAt.IsZero() {
		since = a.now().Sub(st.DecreasedAt)
	}
	a.log.Debug("bwe estimate", "estimate", st.Estimate, "gcc", st.GCC, "acked", st.Acked,
		"sent", st.Sent, "loss", st.Loss, "validated", st.Validated, "probing", st.Probing,
		"probe_target", st.ProbeTarget, "decreased_ago", since, "cause", st.Cause)
}

// probe asks for a probe toward a step costing step bit/s, with headroom,
// but never beyond probeMaxFactor times the estimate: a link far below the
// step is then found out in steps, each short overshoot fitting the
// bottleneck's queue.
func (a *Allocator) probe(step, budget int) {
	estimate := int(float64(budget) / budgetShare)
	target := min(int(probeHeadroom*float64(step)/budgetShare), probeMaxFactor*estimate)
	if a.src.StartProbe(target, ProbeUpgrade) && a.log != nil {
		a.log.Debug("bwe probe", "target", target, "step", step, "budget", budget)
	}
}

// headroomProbe probes once above an allocation that got everything its
// tiles want (total bit/s), toward twice its cost, as libwebrtc probes at
// 1x and 2x a new maximum allocation. Without it the estimate stops where
// the last upgrade's probe left it, just over what is forwarded: a tile
// enlarged or a track subscribed later must then probe before it may
// grow, and on a lossy path GCC alone climbs slowly (scenario 5). It runs
// again only for a total larger by more than the keep tolerance (not for
// layer cost noise), or after headroomInterval when congestion or drift
// has left the estimate under twice the allocation; a saturated result
// never takes the estimate below what was validated, so it cannot cost
// the present layers.
func (a *Allocator) headroomProbe(total int, st EstimatorStats) {
	if total <= 0 || st.Estimate >= headroomFactor*total {
		return
	}
	if float64(total) <= (1+keepSlack)*float64(a.headroomFor) && a.now().Sub(a.headroomAt) < headroomInterval {
		return
	}
	target := min(headroomFactor*total, probeMaxFactor*st.Estimate)
	if !a.src.StartProbe(target, ProbeHeadroom) {
		return
	}
	a.headroomFor, a.headroomAt = total, a.now()
	if a.log != nil {
		a.log.Debug("bwe headroom probe", "target", target, "allocated", total)
	}
}

// costNow prices present allocations at today's layer bitrates.
func costNow(infos []SubscriptionInfo, cur []Allocation) int {
	n := 0
	for i, c := range cur {
		s := &infos[i]
		switch {
		case s.Audio:
			n += defaultAudioBps
			if len(s.Layers) > 0 && s.Layers[0].BitrateBps > 0 {
				n += s.Layers[0].BitrateBps - defaultAudioBps
			}
		case c.Skip || c.Spatial < 0:
		default:
			for _, o := range ladder(s) {
				if o.spatial == c.Spatial && o.temporal == c.Temporal {
					n += o.bitrate
				}
			}
		}
	}
	return n
}

// limitUpgrades lowers next so that no track goes above cur: a track with
// no present allocation, or a paused one, may start at its lowest step.
func limitUpgrades(infos []SubscriptionInfo, next, cur []Allocation) {
	for i := range next {
		n, c := next[i], cur[i]
		if n.Skip || infos[i].Audio || n.Spatial < 0 {
			continue
		}
		l := ladder(&infos[i])
		if c.Skip || c.Spatial < 0 {
			next[i] = Allocation{Spatial: l[0].spatial, Temporal: l[0].temporal, BitrateBps: l[0].bitrate}
			continue
		}
		if stepIndex(l, n) > stepIndex(l, c) {
			next[i] = c
		}
	}
}

// anyUpgrade reports that some track would get a higher step than it has.
func anyUpgrade(infos []SubscriptionInfo, next, cur []Allocation) bool {
	for i := range next {
		n, c := next[i], cur[i]
		if n.Skip || infos[i].Audio || n.Spatial < 0 {
			continue
		}
		if c.Skip || c.Spatial < 0 {
			return true
		}
		l := ladder(&infos[i])
		if stepIndex(l, n) > stepIndex(l, c) {
			return true
		}
	}
	return false
}

func stepIndex(l []option, a Allocation) int {
	for k, o := range l {
		if o.spatial == a.Spatial && o.temporal == a.Temporal {
			return k
		}
	}
	return len(l)
}

// pad sends the padding a running probe needs: what everything sent since
// the probe began falls short of its target rate, spread over the tracks in
// turn, only at frame ends (WritePadding refuses mid-frame; the shortfall
// stays until the next tick). Counting what was really sent, not what the
// allocation expects the media to cost, keeps a probe at its target when
// the media sends less than its layer's average (a low temporal layer, a
// publisher recovering): a probe short of its target fails, and the
// allocation stays below it (seen after an ICE restart: stuck at one
// temporal layer for over 10 s).
func (a *Allocator) pad() {
	want, ok := a.src.ProbeShortfall()
	if !ok {
		return
	}
	for _, s := range a.subs() {
		if want <= 0 {
			break
		}
		if _, ok := a.applied[s.Info().TrackID]; !ok {
			continue // audio or hidden: no padding there
		}
		want -= s.WritePadding(want)
	}
}

// Snapshot returns the current allocation and estimate. Call it from the
// Run goroutine (the stats sink) or after Run returned.
func (a *Allocator) Snapshot() AllocatorStats {
	st := AllocatorStats{At: a.now(), Estimator: a.src.Stats()}
	for _, s := range a.subs() {
		info := s.Info()
		al, ok := a.applied[info.TrackID]
		if info.Audio {
			bps := defaultAudioBps
			if len(info.Layers) > 0 && info.Layers[0].BitrateBps > 0 {
				bps = info.Layers[0].BitrateBps
			}
			al, ok = Allocation{Spatial: 0, Temporal: -1, BitrateBps: bps}, true
		}
		if !ok {
			continue
		}
		st.AllocatedBps += max(al.BitrateBps, 0)
		st.Tracks = append(st.Tracks, TrackAllocation{
			TrackID: info.TrackID, Audio: info.Audio, Spatial: al.Spatial, Temporal: al.Temporal,
			BitrateBps: al.BitrateBps, Paused: al.Paused(),
		})
	}
	return st
}
