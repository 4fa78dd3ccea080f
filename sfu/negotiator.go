package sfu

import (
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// negotiationDelay batches subscription changes that arrive together (a
// participant joining a room with many tracks) into one offer.
const negotiationDelay = 20 * time.Millisecond

// negotiator drives the server-offered subscribe connection: at most one
// offer in flight; changes made meanwhile are folded into the next offer.
type negotiator struct {
	p *Participant

	mu       sync.Mutex
	inFlight bool
	pending  bool
	timer    *time.Timer
	stopped  bool
	restart  bool                      // the next offer restarts ICE
	mids     map[string]string         // of the offer in flight
	cands    []webrtc.ICECandidateInit // remote candidates before the answer of their generation
}

// schedule asks for a (re)negotiation soon.
func (n *negotiator) schedule() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	if n.inFlight || n.timer != nil {
		n.pending = true
		return
	}
	n.timer = time.AfterFunc(negotiationDelay, n.offer)
}

func (n *negotiator) offer() {
	n.mu.Lock()
	n.timer = nil
	if n.stopped || n.inFlight {
		n.pending = !n.stopped
		n.mu.Unlock()
		return
	}
	n.inFlight = true
	n.pending = false
	var opts *webrtc.OfferOptions
	if n.restart {
		opts = &webrtc.OfferOptions{ICERestart: true}
		n.restart = false
	}
	n.mu.Unlock()

	pc := n.p.sub
	if opts != nil {
		n.p.logger.Info("restarting ICE on the subscribe connection")
	}
	offer, err := pc.CreateOffer(opts)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err != nil {
		if pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
			return // the participant left meanwhile
		}
		n.p.logger.Warn("subscribe offer failed", "err", err)
		n.mu.Lock()
		n.inFlight = false
		n.restart = n.restart || opts != nil
		n.mu.Unlock()
		return
	}
	mids := make(map[string]string)
	for _, tr := range pc.GetTransceivers() {
		sender := tr.Sender()
		if sender == nil {
			continue
		}
		if d, ok := sender.Track().(*DownTrack); ok && tr.Mid() != "" {
			mids[tr.Mid()] = d.track.sid
		}
	}
	n.mu.Lock()
	n.mids = mids
	n.mu.Unlock()
	n.p.notify(SubscribeOffer{SDP: pc.LocalDescription().SDP, Mids: mids})
}

// restartICE makes the next offer an ICE restart and schedules it; an
// offer in flight is answered first.
func (n *negotiator) restartICE() {
	n.mu.Lock()
	n.restart = true
	n.mu.Unlock()
	n.schedule()
}

// resume runs when the client re-attached on a new socket: an offer in
// flight may have died with the old one, so it is sent again (with every
// candidate gathered so far, as those trickles may be lost too); restart
// asks for an ICE restart after it, or now.
func (n *negotiator) resume(restart bool) {
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return
	}
	n.restart = n.restart || restart
	inFlight, mids := n.inFlight, n.mids
	n.mu.Unlock()
	if inFlight {
		if desc := n.p.sub.LocalDescription(); desc != nil && n.p.sub.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
			n.p.notify(SubscribeOffer{SDP: desc.SDP, Mids: mids})
		}
		if restart {
			n.mu.Lock()
			n.pending = true
			n.mu.Unlock()
		}
		return
	}
	if restart {
		n.schedule()
	}
}

// handleAnswer applies the client's answer and sends the next offer if
// changes piled up meanwhile.
func (n *negotiator) handleAnswer(sdp string) error {
	n.mu.Lock()
	if !n.inFlight {
		n.mu.Unlock()
		return ErrNoOfferInFlight
	}
	n.mu.Unlock()
	if n.p.relayOnly.Load() {
		var err error
		if sdp, err = relayCandidatesOnly(sdp); err != nil {
			return err
		}
	}
	err := n.p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	n.mu.Lock()
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	n.inFlight = false
	cands := n.cands
	n.cands = nil
	again := n.pending || n.restart
	n.mu.Unlock()
	n.p.flushCandidates(n.p.sub, cands)
	if again {
		n.schedule()
	}
	return nil
}

// addCandidate adds a remote candidate, or queues it until the first answer.
func (n *negotiator) addCandidate(c webrtc.ICECandidateInit) error {
	n.mu.Lock()
	if !matchesGeneration(n.p.sub.RemoteDescription(), c) {
		if len(n.cands) < maxQueuedCandidates {
			n.cands = append(n.cands, c)
		}
		n.mu.Unlock()
		return nil
	}
	n.mu.Unlock()
	if err := n.p.sub.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCandidate, err)
	}
	return nil
}

func (n *negotiator) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopped = true
	if n.timer != nil {
		n.timer.Stop()
		n.timer = nil
	}
}
