package sfu

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// maxQueuedCandidates bounds the remote candidates one connection keeps
// while it waits for the description of their ICE generation.
const maxQueuedCandidates = 64

// sdpUfrag returns the first a=ice-ufrag line's value ("" if none). Only a
// line that starts with the attribute counts, as in pion's parser: the
// text may appear inside another line of a client's SDP.
func sdpUfrag(desc *webrtc.SessionDescription) string {
	if desc == nil {
		return ""
	}
	const attr = "a=ice-ufrag:"
	for rest := desc.SDP; rest != ""; {
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if v, ok := strings.CutPrefix(line, attr); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// matchesGeneration reports whether a remote candidate can be applied to
// the connection now: a remote description exists and, when the candidate
// names its ICE generation (usernameFragment), it is that description's.
// After an ICE restart a client's new candidates can overtake its offer or
// answer on the socket; applied to the old generation they would be lost.
func matchesGeneration(remote *webrtc.SessionDescription, c webrtc.ICECandidateInit) bool {
	if remote == nil {
		return false
	}
	if c.UsernameFragment == nil || *c.UsernameFragment == "" {
		return true
	}
	return *c.UsernameFragment == sdpUfrag(remote)
}

// flushCandidates applies queued candidates of the current generation and
// drops those of older ones.
func (p *Participant) flushCandidates(pc *webrtc.PeerConnection, cands []webrtc.ICECandidateInit) {
	remote := pc.RemoteDescription()
	for _, c := range cands {
		if !matchesGeneration(remote, c) {
			continue
		}
		if err := pc.AddICECandidate(c); err != nil {
			p.logger.Debug("queued candidate refused", "err", err)
		}
	}
}

// Resume is called when the participant's client re-attached after a
// signaling reconnect: the subscribe offer in flight is sent again, and
// the subscribe connection restarts ICE unless it is connected. The
// publish connection is the client's to restart.
func (p *Participant) Resume() {
	switch p.sub.ICEConnectionState() {
	case webrtc.ICEConnectionStateDisconnected, webrtc.ICEConnectionStateFailed:
		p.neg.resume(true)
	default:
		p.neg.resume(false)
	}
}

// SelectedCandidatePair is the candidate pair one connection sends on, nil
// before ICE connected.
func (p *Participant) SelectedCandidatePair(target Target) (*webrtc.ICECandidatePair, error) {
	pc := p.sub
	if pc == nil {
		return nil, nil // a remote participant: its connections are on its node
	}
	if target == TargetPublish {
		if pc = p.existingPublishPC(); pc == nil {
			return nil, nil
		}
	}
	it := pc.SCTP().Transport().ICETransport()
	switch it.State() {
	case webrtc.ICETransportStateNew, webrtc.ICETransportStateClosed, webrtc.ICETransportState(0):
		// pion v4.2.26 sets the transport's gatherer in Start without
		// a lock GetSelectedCandidatePair would take: before Start there
		// is no pair, and asking races with it.
		return nil, nil
	}
	return it.GetSelectedCandidatePair() //nolint:wrapcheck // pion's error says it all
}
