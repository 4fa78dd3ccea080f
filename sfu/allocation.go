package sfu

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiki-sfu/hibiki/bwe"
	"github.com/pion/webrtc/v4"
)

var errNoEstimator = errors.New("sfu: subscribe connection has no bandwidth estimator")

// startAllocator runs the bandwidth allocator of p's subscribe connection:
// one event loop per subscriber, ended by closePeers.
func (p *Participant) startAllocator(est *bwe.Estimator) error {
	if est == nil {
		return errNoEstimator
	}
	opts := []bwe.AllocatorOption{
		bwe.WithDominantSpeaker(p.room.Dominant),
		bwe.WithStatsSink(p.bandwidthStats),
		bwe.WithAllocatorLogger(p.logger),
	}
	if d := p.room.sfu.opts.statsInterval; d > 0 {
		opts = append(opts, bwe.WithStatsInterval(d))
	}
	alloc, err := bwe.NewAllocator(est, p.subscriptions, opts...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(p.room.sfu.ctx)
	p.alloc, p.stopAlloc = alloc, cancel
	p.mu.Lock()
	p.est = est
	p.mu.Unlock()
	p.resends = &resendBudget{src: est}
	if p.data != nil {
		p.data.pace(newDataPacer(est))
	}
	p.room.sfu.goroutine(func() { alloc.Run(ctx) })
	return nil
}

// subscriptions lists p's downtracks for the allocator.
func (p *Participant) subscriptions() []bwe.Subscription {
	downs := p.downTracks()
	out := make([]bwe.Subscription, len(downs))
	for i, d := range downs {
		out[i] = d
	}
	return out
}

// allowResend implements downstream: retransmissions are capped at what
// the estimate leaves beside the allocated media.
func (p *Participant) allowResend(n int, key bool) bool {
	return p.resends == nil || p.resends.allow(n, key, time.Now())
}

// reallocate asks for an allocation round now.
func (p *Participant) reallocate() {
	if p.alloc != nil {
		p.alloc.Trigger()
	}
}

// bandwidthStats turns an allocator snapshot into the subscriber's event.
func (p *Participant) bandwidthStats(s bwe.AllocatorStats) {
	e := s.Estimator
	ev := BandwidthStats{
		EstimateBps: e.Estimate, GCCBps: e.GCC, AckedBps: e.Acked, SentBps: e.Sent, LossPct: 100 * e.Loss,
		AllocatedBps: s.AllocatedBps, Probing: e.Probing,
		Tracks: make([]TrackBandwidth, 0, len(s.Tracks)),
	}
	for _, t := range s.Tracks {
		ev.Tracks = append(ev.Tracks, TrackBandwidth{
			TrackSID: t.TrackID, Audio: t.Audio, Layer: t.Spatial, Temporal: t.Temporal,
			BitrateBps: t.BitrateBps, Paused: t.Paused,
		})
	}
	p.notify(ev)
}

// subscribeRoute notes the subscribe connection's selected candidate pair;
// a change of pair (an ICE restart onto another path, a fallback to a
// relay) starts the bandwidth estimate over: it measured the old path.
func (p *Participant) subscribeRoute(pair *webrtc.ICECandidatePair) {
	if pair == nil || pair.Local == nil || pair.Remote == nil {
		return
	}
	route := routeKey(pair.Local, pair.Remote)
	p.mu.Lock()
	old, est := p.subRoute, p.est
	p.subRoute = route
	p.mu.Unlock()
	if old != "" && old != route && est != nil {
		p.logger.Debug("subscribe route changed, bandwidth estimate starts over", "from", old, "to", route)
		est.RouteChanged()
	}
}

// routeKey names the path a candidate pair takes: both transport addresses
// (a relayed candidate's is its address on the relay).
func routeKey(local, remote *webrtc.ICECandidate) string {
	return fmt.Sprintf("%s %s:%d -> %s %s:%d", local.Protocol, local.Address, local.Port, remote.Protocol, remote.Address, remote.Port)
}
