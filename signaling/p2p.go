package signaling

import (
	"errors"
	"unicode/utf8"

	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/pion/webrtc/v4"
)

// Limits of what a client may relay to its peer: the server passes SDP and
// ICE through without reading them, so it bounds them instead.
const (
	maxP2PSDP       = 32 << 10 // bytes of one offer or answer
	maxP2PCandidate = 1024     // bytes of one candidate line
	maxP2PMids      = 32       // entries of a mids map
	maxSessionLen   = 64       // characters of a session id
)

// p2pSignalType maps a relay message type to the SFU's signal kind.
func p2pSignalType(t string) string {
	switch t {
	case TypeP2POffer:
		return sfu.P2PSignalOffer
	case TypeP2PAnswer:
		return sfu.P2PSignalAnswer
	default:
		return sfu.P2PSignalCandidate
	}
}

// handleP2PRelay passes p2pOffer, p2pAnswer and p2pCandidate to the peer of
// the named session. A message for a session that just ended (it raced
// with p2pEnd) is dropped without an error.
func handleP2PRelay(s *session, m *Message) (*Message, error) {
	sig, err := p2pSignal(m)
	if err != nil {
		return nil, err
	}
	if err := s.p.RelayP2P(sig); err != nil && !errors.Is(err, sfu.ErrNoP2PSession) {
		return nil, err
	}
	return nil, nil
}

// p2pSignal validates a relay message and turns it into the SFU's event.
func p2pSignal(m *Message) (sfu.P2PSignal, error) {
	if err := checkSession(m.Session); err != nil {
		return sfu.P2PSignal{}, err
	}
	sig := sfu.P2PSignal{Session: m.Session, Type: p2pSignalType(m.Type)}
	if m.Type == TypeP2PCandidate {
		c := m.Candidate
		if c == nil || len(c.Candidate) > maxP2PCandidate || !utf8.ValidString(c.Candidate) ||
			(c.SDPMid != nil && !validText(*c.SDPMid)) || (c.UsernameFragment != nil && !validText(*c.UsernameFragment)) {
			return sfu.P2PSignal{}, newError(CodeBadRequest, "candidate missing or too long", nil)
		}
		sig.Candidate = &webrtc.ICECandidateInit{
			Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
		}
		return sig, nil
	}
	if m.SDP == "" || len(m.SDP) > maxP2PSDP || !utf8.ValidString(m.SDP) {
		return sfu.P2PSignal{}, newError(CodeBadRequest, "sdp missing or larger than 32 KiB", nil)
	}
	if len(m.Mids) > maxP2PMids {
		return sfu.P2PSignal{}, newError(CodeBadRequest, "too many mids", nil)
	}
	for mid, sid := range m.Mids {
		if mid == "" || !validText(mid) || !validText(sid) {
			return sfu.P2PSignal{}, newError(CodeBadRequest, "bad mids entry", nil)
		}
	}
	sig.SDP, sig.Mids = m.SDP, m.Mids
	return sig, nil
}

func checkSession(id string) error {
	if id == "" || utf8.RuneCountInString(id) > maxSessionLen {
		return newError(CodeBadRequest, "session missing or too long", nil)
	}
	return nil
}

// handleP2PReady: the client receives everything of its peer directly.
func handleP2PReady(s *session, m *Message) (*Message, error) {
	if err := checkSession(m.Session); err != nil {
		return nil, err
	}
	if err := s.p.P2PReady(m.Session); err != nil && !errors.Is(err, sfu.ErrNoP2PSession) {
		return nil, err
	}
	return &Message{Type: TypeOK}, nil
}

// handleP2PFailed: the client's direct connection failed or never came up.
func handleP2PFailed(s *session, m *Message) (*Message, error) {
	if err := checkSession(m.Session); err != nil {
		return nil, err
	}
	if err := s.p.P2PFailed(m.Session); err != nil && !errors.Is(err, sfu.ErrNoP2PSession) {
		return nil, err
	}
	return &Message{Type: TypeOK}, nil
}

// p2pSignalMessage is the relayed message the peer receives.
func p2pSignalMessage(e sfu.P2PSignal) *Message {
	m := &Message{Session: e.Session, ParticipantSID: e.From, SDP: e.SDP, Mids: e.Mids}
	switch e.Type {
	case sfu.P2PSignalOffer:
		m.Type = TypeP2POffer
	case sfu.P2PSignalAnswer:
		m.Type = TypeP2PAnswer
	default:
		m.Type = TypeP2PCandidate
		if c := e.Candidate; c != nil {
			m.Candidate = &ICECandidate{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
		}
	}
	return m
}
