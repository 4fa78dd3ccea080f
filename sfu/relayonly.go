package sfu

import (
	"strings"
	"time"

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
	if !on {
		return
	}
	for _, p := range ps {
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

// relayCandidatesOnly drops every candidate line but relay ones from a
// client's description, so a relay-only connection never pairs with a
// host or server-reflexive candidate the client offered anyway.
func relayCandidatesOnly(sdp string) string {
	if !strings.Contains(sdp, "a=candidate:") {
		return sdp
	}
	lines := strings.SplitAfter(sdp, "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.HasPrefix(l, "a=candidate:") && !strings.Contains(l, " typ relay") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}
