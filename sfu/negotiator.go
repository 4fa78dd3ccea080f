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
	cands    []webrtc.ICECandidateInit // remote candidates before the answer
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
	n.mu.Unlock()

	pc := n.p.sub
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err != nil {
		n.p.logger.Warn("subscribe offer failed", "err", err)
		n.mu.Lock()
		n.inFlight = false
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
	n.p.notify(SubscribeOffer{SDP: pc.LocalDescription().SDP, Mids: mids})
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
	err := n.p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	n.mu.Lock()
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	n.inFlight = false
	cands := n.cands
	n.cands = nil
	again := n.pending
	n.mu.Unlock()
	for _, c := range cands {
		if err := n.p.sub.AddICECandidate(c); err != nil {
			n.p.logger.Debug("queued candidate refused", "err", err)
		}
	}
	if again {
		n.schedule()
	}
	return nil
}

// addCandidate adds a remote candidate, or queues it until the first answer.
func (n *negotiator) addCandidate(c webrtc.ICECandidateInit) error {
	n.mu.Lock()
	if n.p.sub.RemoteDescription() == nil {
		if len(n.cands) < 64 {
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
