package bot

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/webrtc/v4"
)

// peer is one of the bot's two PeerConnections with its side of trickle
// ICE: local candidates go out as they are gathered, remote ones wait until
// a remote description exists (the server may trickle before its offer or
// before our answer has been applied).
type peer struct {
	pc     *webrtc.PeerConnection
	target string
	sig    *Signal
	log    *slog.Logger

	mu        sync.Mutex
	remoteSet bool
	queued    []webrtc.ICECandidateInit
	onICE     func(webrtc.ICEConnectionState)
}

func newPeer(api *webrtc.API, iceServers []signaling.ICEServer, target string, sig *Signal, log *slog.Logger) (*peer, error) {
	conf := webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan}
	for _, s := range iceServers {
		conf.ICEServers = append(conf.ICEServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	pc, err := api.NewPeerConnection(conf)
	if err != nil {
		return nil, fmt.Errorf("new %s peer connection: %w", target, err)
	}
	p := &peer{pc: pc, target: target, sig: sig, log: log.With("pc", target)}
	pc.OnICECandidate(p.sendCandidate)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.log.Debug("connection state", "state", s.String())
	})
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		p.log.Debug("ice state", "state", s.String())
		p.mu.Lock()
		f := p.onICE
		p.mu.Unlock()
		if f != nil {
			f(s)
		}
	})
	return p, nil
}

// onICEState sets the handler of ICE connection state changes.
func (p *peer) onICEState(f func(webrtc.ICEConnectionState)) {
	p.mu.Lock()
	p.onICE = f
	p.mu.Unlock()
}

// sendCandidate trickles one local candidate; nil (gathering complete) is
// sent as the empty candidate that marks the end of candidates.
func (p *peer) sendCandidate(c *webrtc.ICECandidate) {
	cand := &signaling.ICECandidate{}
	if c != nil {
		init := c.ToJSON()
		cand.Candidate = init.Candidate
		cand.SDPMid = init.SDPMid
		cand.SDPMLineIndex = init.SDPMLineIndex
		// Tag the ICE generation, as browsers do, so the server can hold
		// candidates of a restart that overtake its offer.
		if ufrag := sdpUfrag(p.pc.LocalDescription()); ufrag != "" {
			cand.UsernameFragment = &ufrag
		}
	}
	err := p.sig.Send(&signaling.Message{Type: signaling.TypeCandidate, Target: p.target, Candidate: cand})
	if err != nil {
		p.log.Debug("send candidate", "err", err)
	}
}

// addRemoteCandidate applies a trickled candidate now or after the remote
// description is set.
func (p *peer) addRemoteCandidate(c *signaling.ICECandidate) error {
	if c == nil || c.Candidate == "" {
		return nil // end of candidates; pion needs no marker
	}
	init := webrtc.ICECandidateInit{
		Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
	}
	p.mu.Lock()
	if !p.remoteSet || !sameGeneration(p.pc.RemoteDescription(), init) {
		if len(p.queued) < maxQueued {
			p.queued = append(p.queued, init)
		}
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	if err := p.pc.AddICECandidate(init); err != nil {
		return fmt.Errorf("add %s candidate: %w", p.target, err)
	}
	return nil
}

// setRemote applies a remote description and then the candidates that
// arrived before it.
func (p *peer) setRemote(desc webrtc.SessionDescription) error {
	if err := p.pc.SetRemoteDescription(desc); err != nil {
		return fmt.Errorf("set %s remote %s: %w", p.target, desc.Type, err)
	}
	p.mu.Lock()
	p.remoteSet = true
	queued := p.queued
	p.queued = nil
	p.mu.Unlock()
	remote := p.pc.RemoteDescription()
	for _, c := range queued {
		if !sameGeneration(remote, c) {
			continue // an older generation's candidate
		}
		if err := p.pc.AddICECandidate(c); err != nil {
			p.log.Warn("add queued candidate", "err", err)
		}
	}
	return nil
}

// maxQueued bounds the candidates waiting for their description.
const maxQueued = 64

// sdpUfrag returns the first a=ice-ufrag of a description ("" if none).
func sdpUfrag(desc *webrtc.SessionDescription) string {
	if desc == nil {
		return ""
	}
	const attr = "a=ice-ufrag:"
	i := strings.Index(desc.SDP, attr)
	if i < 0 {
		return ""
	}
	rest := desc.SDP[i+len(attr):]
	if j := strings.IndexAny(rest, "\r\n"); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimSpace(rest)
}

// sameGeneration reports whether a candidate belongs to the remote
// description's ICE generation (untagged candidates always do).
func sameGeneration(remote *webrtc.SessionDescription, c webrtc.ICECandidateInit) bool {
	if c.UsernameFragment == nil || *c.UsernameFragment == "" {
		return true
	}
	return *c.UsernameFragment == sdpUfrag(remote)
}

func (p *peer) close() error {
	if err := p.pc.Close(); err != nil {
		return fmt.Errorf("close %s peer connection: %w", p.target, err)
	}
	return nil
}
