package sfu

import (
	"fmt"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// relayGrace is how long a peer-reflexive remote candidate may stay
// selected before the relay-only check looks again: a TURN relay's checks
// can reach the server before the client's trickled relay candidate does,
// and pion then replaces the peer-reflexive candidate by the relay one.
const relayGrace = 2 * time.Second

// SetRelayOnly makes the room relay-only (or not). Participants joining
// afterwards are told iceTransportPolicy "relay" and accept only relayed
// candidate pairs; participants already connected without a relay are
// removed, so they rejoin under the policy. The global rtc relay-only
// setting overrides false.
func (r *Room) SetRelayOnly(on bool) {
	r.mu.Lock()
	r.relayOnly = on
	ps := append([]*Participant(nil), r.order...)
	r.mu.Unlock()
	r.evaluateP2P()
	if !on {
		return
	}
	for _, p := range ps {
		if p.origin != "" {
			continue // its node applies the policy to it
		}
		p.relayOnly.Store(true)
		for _, t := range []Target{TargetPublish, TargetSubscribe} {
			if pair, err := p.SelectedCandidatePair(t); err == nil && pair != nil {
				p.checkRelayed(t, pair)
			}
		}
	}
}

// RelayOnly reports the room's own flag (not the global setting).
func (r *Room) RelayOnly() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.relayOnly
}

// RelayOnly reports whether the participant may connect through TURN only.
func (p *Participant) RelayOnly() bool { return p.relayOnly.Load() }

// checkRelayed enforces relay-only on a newly selected pair: the remote
// end must be a relay candidate. A peer-reflexive one gets relayGrace to be
// identified as the relay it usually is.
func (p *Participant) checkRelayed(target Target, pair *webrtc.ICECandidatePair) {
	if !p.relayOnly.Load() || pair == nil || pair.Remote == nil {
		return
	}
	switch pair.Remote.Typ {
	case webrtc.ICECandidateTypeRelay:
		return
	case webrtc.ICECandidateTypePrflx:
		p.room.sfu.goroutine(func() {
			t := time.NewTimer(relayGrace)
			defer t.Stop()
			select {
			case <-p.done:
				return
			case <-t.C:
			}
			now, err := p.SelectedCandidatePair(target)
			if err == nil && now != nil && now.Remote != nil && now.Remote.Typ != webrtc.ICECandidateTypeRelay {
				p.refuseUnrelayed(target, now)
			}
		})
	default:
		p.refuseUnrelayed(target, pair)
	}
}

func (p *Participant) refuseUnrelayed(target Target, pair *webrtc.ICECandidatePair) {
	p.logger.Warn("relay-only: connection is not relayed, removing participant", "target", target, "pair", pair.String())
	p.notify(Removed{Reason: "relay-only room: the connection must go through TURN"})
	// Not on pion's callback goroutine: Leave closes this connection.
	p.room.sfu.goroutine(p.Leave)
}

// relayCandidatesOnly drops every candidate but relay ones from a client's
// description, so a relay-only connection never pairs with a host or
// server-reflexive candidate the client offered anyway. It reads the SDP
// with the parser pion applies it with: a text filter disagrees with it on
// line ends (pion also ends a line at a lone CR) and let candidates
// through. A description with nothing to drop is returned as it came.
func relayCandidatesOnly(text string) (string, error) {
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(text); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	var removed bool
	desc.Attributes, removed = keepRelayCandidates(desc.Attributes)
	for _, m := range desc.MediaDescriptions {
		var r bool
		m.Attributes, r = keepRelayCandidates(m.Attributes)
		removed = removed || r
	}
	if !removed {
		return text, nil
	}
	out, err := desc.Marshal()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	return string(out), nil
}

// keepRelayCandidates filters attrs in place; removed reports a drop.
func keepRelayCandidates(attrs []sdp.Attribute) (kept []sdp.Attribute, removed bool) {
	kept = attrs[:0]
	for _, a := range attrs {
		if a.IsICECandidate() {
			c, err := ice.UnmarshalCandidate(a.Value)
			if err != nil || c.Type() != ice.CandidateTypeRelay {
				removed = true
				continue
			}
		}
		kept = append(kept, a)
	}
	return kept, removed
}
