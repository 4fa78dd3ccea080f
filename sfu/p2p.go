package sfu

import (
	"errors"
	"sync"
	"time"
)

// p2pConnectTimeout bounds how long a pair may take from p2p to both
// p2pReady before the server gives up on the direct connection and counts
// it as failed. Clients report failure themselves sooner (p2pFailed).
const p2pConnectTimeout = 15 * time.Second

// ErrNoP2PSession is returned for P2P requests that name a session the
// participant is not (or no longer) part of; such requests race with
// p2pEnd and are dropped by the signaling layer.
var ErrNoP2PSession = errors.New("sfu: no such P2P session")

// p2pState is a room's peer-to-peer machinery: the planner (when) and the
// current session (who, how far). One mutex serializes every decision;
// lock order is p2pState.mu, then Room.mu, Participant.mu, DownTrack.mu.
type p2pState struct {
	mu      sync.Mutex
	enabled *bool // the room's own setting; nil = the server default
	plan    p2pPlanner
	cur     *p2pSession
	timer   *time.Timer // re-evaluation when a waiting pair may start
	closed  bool
}

// p2pSession is one direct connection attempt between two participants.
// States: connecting (p2p sent, forwarding continues), then each side's
// p2pReady stops forwarding to that side; active when both are ready.
type p2pSession struct {
	id      string
	pair    p2pPair
	members [2]*Participant // offerer, answerer
	ready   [2]bool
	started time.Time
	timeout *time.Timer
}

func (s *p2pSession) index(p *Participant) int {
	for i, m := range s.members {
		if m == p {
			return i
		}
	}
	return -1
}

func (s *p2pSession) active() bool { return s.ready[0] && s.ready[1] }

// P2PStatus is a snapshot of a room's direct session, for tests and
// metrics.
type P2PStatus struct {
	Session string
	Pair    [2]string // offerer, answerer SIDs
	Ready   [2]bool
	Active  bool
}

// SetP2P turns peer-to-peer calls on or off for this room (the server
// default applies until it is called). Turning it off ends a direct session
// at once.
func (r *Room) SetP2P(on bool) {
	r.p2p.mu.Lock()
	r.p2p.enabled = &on
	r.p2p.mu.Unlock()
	r.evaluateP2P()
}

// P2PEnabled reports whether the room allows peer-to-peer calls.
func (r *Room) P2PEnabled() bool {
	r.p2p.mu.Lock()
	defer r.p2p.mu.Unlock()
	return r.p2pEnabledLocked()
}

func (r *Room) p2pEnabledLocked() bool {
	if r.p2p.enabled != nil {
		return *r.p2p.enabled
	}
	return r.sfu.opts.p2p
}

// P2P returns the room's current direct session (zero Session if none).
func (r *Room) P2P() P2PStatus {
	r.p2p.mu.Lock()
	defer r.p2p.mu.Unlock()
	s := r.p2p.cur
	if s == nil {
		return P2PStatus{}
	}
	return P2PStatus{Session: s.id, Pair: [2]string{s.pair.A, s.pair.B}, Ready: s.ready, Active: s.active()}
}

// p2pView snapshots what the planner needs, with the participants.
func (r *Room) p2pView() (p2pView, map[string]*Participant) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := p2pView{Enabled: r.p2pEnabledLocked(), RelayOnly: r.relayOnly || r.sfu.relayOnly}
	ps := make(map[string]*Participant, len(r.order))
	for _, p := range r.order {
		v.Members = append(v.Members, p2pMember{SID: p.sid, Capable: p.p2pCapable, RelayOnly: p.relayOnly.Load()})
		ps[p.sid] = p
	}
	return v, ps
}

// evaluateP2P applies the planner's decision: it ends a session that is no
// longer wanted, starts one that is, or arms a timer for a pair waiting out
// the hysteresis. Called on every change that can affect it.
func (r *Room) evaluateP2P() {
	st := &r.p2p
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed || r.sfu == nil { // r.sfu: a bare Room{} in tests
		return
	}
	now := time.Now()
	view, ps := r.p2pView()
	pair, ok, wait, reason := st.plan.plan(now, view)
	if st.cur != nil && (!ok || pair != st.cur.pair) {
		r.endP2PLocked(now, ps, reason, false)
	}
	if ok && st.cur == nil {
		r.startP2PLocked(now, pair, ps)
	}
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	if wait > 0 {
		st.timer = time.AfterFunc(wait, r.evaluateP2P)
	}
}

func (r *Room) startP2PLocked(now time.Time, pair p2pPair, ps map[string]*Participant) {
	a, b := ps[pair.A], ps[pair.B]
	s := &p2pSession{id: newID("P2P_"), pair: pair, members: [2]*Participant{a, b}, started: now}
	id := s.id
	s.timeout = time.AfterFunc(p2pConnectTimeout, func() { r.p2pTimedOut(id) })
	r.p2p.cur = s
	r.logger.Info("p2p session starts", "session", s.id, "offerer", a.sid, "answerer", b.sid)
	a.notify(P2PStart{Session: s.id, PeerSID: b.sid, Offer: true})
	b.notify(P2PStart{Session: s.id, PeerSID: a.sid, Offer: false})
}

// endP2PLocked ends the current session: forwarding between the pair
// resumes (the publishers are asked for their layers again through
// layersChanged), and those still in the room get p2pEnd.
func (r *Room) endP2PLocked(now time.Time, ps map[string]*Participant, reason string, failed bool) {
	s := r.p2p.cur
	r.p2p.cur = nil
	s.timeout.Stop()
	r.p2p.plan.ended(now, s.pair, failed)
	r.logger.Info("p2p session ends", "session", s.id, "reason", reason, "after", now.Sub(s.started).Round(time.Millisecond))
	for i, p := range s.members {
		peer := s.members[1-i]
		if s.ready[i] {
			p.setDirect(peer, false)
		}
	}
	for _, p := range s.members {
		if ps[p.sid] == p {
			p.notify(P2PEnd{Session: s.id, Reason: reason})
		}
	}
}

// p2pTimedOut fails a session that did not become active in time.
func (r *Room) p2pTimedOut(id string) {
	r.p2p.mu.Lock()
	s := r.p2p.cur
	if s == nil || s.id != id || s.active() {
		r.p2p.mu.Unlock()
		return
	}
	_, ps := r.p2pView()
	r.endP2PLocked(time.Now(), ps, P2PEndTimeout, true)
	r.p2p.mu.Unlock()
	r.evaluateP2P() // arms the retry timer
}

// session returns the current session if p is in the one named id.
func (r *Room) p2pSessionOf(p *Participant, id string) (*p2pSession, int) {
	s := r.p2p.cur
	if s == nil || s.id != id {
		return nil, -1
	}
	i := s.index(p)
	if i < 0 {
		return nil, -1
	}
	return s, i
}

// P2PReady records that p receives everything of its peer over the direct
// connection: the server stops forwarding the peer's tracks to p. When
// both are ready the session is active and the publishers pause the
// encodings they send to the server.
func (p *Participant) P2PReady(session string) error {
	r := p.room
	r.p2p.mu.Lock()
	defer r.p2p.mu.Unlock()
	s, i := r.p2pSessionOf(p, session)
	if s == nil {
		return ErrNoP2PSession
	}
	if s.ready[i] {
		return nil
	}
	s.ready[i] = true
	p.setDirect(s.members[1-i], true)
	if s.active() {
		s.timeout.Stop()
		r.logger.Info("p2p session active", "session", s.id, "after", time.Since(s.started).Round(time.Millisecond))
	}
	return nil
}

// P2PFailed ends p's direct session: both go back to the SFU, and the pair
// tries again only after a backoff.
func (p *Participant) P2PFailed(session string) error {
	r := p.room
	r.p2p.mu.Lock()
	s, _ := r.p2pSessionOf(p, session)
	if s == nil {
		r.p2p.mu.Unlock()
		return ErrNoP2PSession
	}
	_, ps := r.p2pView()
	r.endP2PLocked(time.Now(), ps, P2PEndFailed, true)
	r.p2p.mu.Unlock()
	r.evaluateP2P()
	return nil
}

// RelayP2P hands SDP or ICE of p's direct connection to its peer as is.
func (p *Participant) RelayP2P(sig P2PSignal) error {
	r := p.room
	r.p2p.mu.Lock()
	s, i := r.p2pSessionOf(p, sig.Session)
	var peer *Participant
	if s != nil {
		peer = s.members[1-i]
	}
	r.p2p.mu.Unlock()
	if peer == nil {
		return ErrNoP2PSession
	}
	sig.From = p.sid
	peer.notify(sig)
	return nil
}

// isDirect reports whether sub receives pub's tracks directly, so a new
// subscription between them starts paused.
func (r *Room) isDirect(sub, pub *Participant) bool {
	r.p2p.mu.Lock()
	defer r.p2p.mu.Unlock()
	s := r.p2p.cur
	if s == nil {
		return false
	}
	i := s.index(sub)
	return i >= 0 && s.ready[i] && s.members[1-i] == pub
}

// stopP2P ends the room's P2P timers when it closes.
func (r *Room) stopP2P() {
	r.p2p.mu.Lock()
	defer r.p2p.mu.Unlock()
	r.p2p.closed = true
	if r.p2p.timer != nil {
		r.p2p.timer.Stop()
	}
	if r.p2p.cur != nil {
		r.p2p.cur.timeout.Stop()
	}
}

// setDirect pauses (on) or resumes forwarding to p of everything pub
// publishes.
func (p *Participant) setDirect(pub *Participant, on bool) {
	for _, d := range p.downTracks() {
		if d.track.owner == pub {
			d.setDirect(on)
		}
	}
}
