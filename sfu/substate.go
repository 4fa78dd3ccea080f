package sfu

import (
	"slices"
	"strings"
)

// SubscriptionState is one subscription's forwarding state. It answers an
// operator's (or a test's) "why does this subscriber see nothing of that
// track": each reason the server forwards nothing is a field of its own.
type SubscriptionState struct {
	TrackSID string `json:"trackSid"`
	Kind     string `json:"kind"`
	// Bound is false until the subscribe connection negotiated the track.
	Bound bool `json:"bound"`
	// Direct: the subscriber receives the track over a P2P connection.
	Direct bool `json:"direct"`
	// Hidden: the subscriber's tile is 0x0.
	Hidden bool `json:"hidden"`
	// BandwidthPaused: the allocator found no room for the lowest layer.
	BandwidthPaused bool `json:"bandwidthPaused"`
	// Paused is the forwarder's own view, the sum of the three above.
	Paused bool `json:"paused"`
	// TargetLayer is the layer wanted; CurrentLayer the one forwarded, -1
	// while waiting for a keyframe (video).
	TargetLayer  int `json:"targetLayer"`
	CurrentLayer int `json:"currentLayer"`
	// AllocatedLayer is the allocator's ceiling, -1 when it set none.
	AllocatedLayer int `json:"allocatedLayer"`
	// Holding: a congestion downswitch waits before taking a keyframe.
	Holding bool `json:"holding"`
	// Packets is how many packets were forwarded so far: a count that
	// stands still while nothing else says paused points at the publisher
	// or the relay, not at this subscription.
	Packets uint64 `json:"packets"`
}

// SubscriptionState returns the state of p's subscription to trackSID.
func (p *Participant) SubscriptionState(trackSID string) (SubscriptionState, bool) {
	p.mu.Lock()
	d := p.subs[trackSID]
	p.mu.Unlock()
	if d == nil {
		return SubscriptionState{}, false
	}
	return d.state(), true
}

func (d *DownTrack) state() SubscriptionState {
	d.mu.Lock()
	defer d.mu.Unlock()
	target, _ := d.fwd.Target()
	return SubscriptionState{
		TrackSID: d.track.sid, Kind: d.track.kind.String(),
		Bound: d.bound, Direct: d.direct.Load(), Hidden: d.hidden, BandwidthPaused: d.bwPaused,
		Paused: d.fwd.Paused(), TargetLayer: target, CurrentLayer: d.fwd.Current(),
		AllocatedLayer: d.allocLayer, Holding: d.fwd.Holding(),
		Packets: d.sent.Load(),
	}
}

// SubscriptionStates returns the state of every subscription of p, in
// track SID order.
func (p *Participant) SubscriptionStates() []SubscriptionState {
	ds := p.downTracks()
	out := make([]SubscriptionState, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.state())
	}
	slices.SortFunc(out, func(a, b SubscriptionState) int { return strings.Compare(a.TrackSID, b.TrackSID) })
	return out
}
