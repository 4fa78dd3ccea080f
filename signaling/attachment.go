package signaling

import (
	"sync"
	"time"

	"github.com/hibiki-sfu/hibiki/sfu"
)

// attachment binds a participant to the socket currently serving it. It
// outlives sockets: when one drops without a leave, the participant (its
// peer connections, tracks and subscriptions) stays for the resume window,
// and a join carrying resume re-attaches it to a new socket. It is the
// participant's sfu.Notifier, so the SFU never learns about sockets.
type attachment struct {
	srv    *Server
	id     string // the sessionId a resume names
	claims *Claims

	mu      sync.Mutex
	p       *sfu.Participant
	sess    *session    // nil while detached
	expiry  *time.Timer // leave timer while detached
	removed bool        // the SFU removed the participant; no resume
	moved   bool        // sent to another node (Server.Redirect); no resume
	// The latest per-track state events, re-sent on resume because events
	// queued on a dead socket are lost and the joined snapshot lacks them.
	layers map[string][]bool
	paused map[string]bool
	// joining: the SFU has the participant but its joined reply is not
	// out yet; events wait in held so the client sees joined first.
	joining bool
	held    []sfu.Event
	// endOnce takes the identity out of the lobby's in-call count once,
	// whichever way the participant ended.
	endOnce sync.Once
}

// ended tells the lobby the participant is gone (left, expired, removed
// by the SFU, or the server closed).
func (a *attachment) ended() {
	a.endOnce.Do(func() { a.srv.lobby.callChanged(a.claims.Identity(), -1) })
}

// newAttachment returns an attachment for a join in progress: it holds the
// participant's events until joined sends the reply. Another participant
// may join (on this node or, in a room spanning nodes, on another) between
// the SFU adding this one and the reply going out. Its participantJoined
// must not overtake the reply, whose snapshot lacks it: a client that
// replaces its list with the snapshot would forget that participant.
func newAttachment(srv *Server, claims *Claims) *attachment {
	return &attachment{
		srv: srv, claims: claims, joining: true,
		layers: make(map[string][]bool),
		paused: make(map[string]bool),
	}
}

// joined attaches s, sends the joined reply and then the events held
// while the join was in progress, in their order.
func (a *attachment) joined(s *session, reply *Message) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.joining = false
	a.sess = s
	s.send(reply)
	for _, ev := range a.held {
		s.Notify(ev)
	}
	a.held = nil
}

// Notify implements sfu.Notifier. It holds the lock while handing the event
// to the session (session.Notify never blocks), so an attach cannot slip
// between them and reorder events around the joined reply.
func (a *attachment) Notify(ev sfu.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch e := ev.(type) {
	case sfu.LayersChanged:
		a.layers[e.TrackSID] = append([]bool(nil), e.Active...)
	case sfu.SubscriptionPaused:
		a.paused[e.TrackSID] = e.Paused
	case sfu.TrackUnpublished:
		delete(a.paused, e.TrackSID)
	case sfu.Removed:
		a.removed = true
		defer a.ended()
		if a.sess == nil && !a.joining {
			a.stopExpiryLocked()
			a.srv.forget(a)
		}
	}
	switch {
	case a.sess != nil:
		a.sess.Notify(ev)
	case a.joining:
		a.held = append(a.held, ev)
	}
}

// replayLocked sends the state a resumed client may have missed.
func (a *attachment) replayLocked(s *session) {
	for sid, active := range a.layers {
		s.Notify(sfu.LayersChanged{TrackSID: sid, Active: active})
	}
	for sid, paused := range a.paused {
		s.Notify(sfu.SubscriptionPaused{TrackSID: sid, Paused: paused})
	}
}

func (a *attachment) stopExpiryLocked() {
	if a.expiry != nil {
		a.expiry.Stop()
		a.expiry = nil
	}
}

// detach runs when s ended. leave says the client is gone for good (it
// sent leave or closed the socket normally), else the participant waits
// for a resume during the window.
func (a *attachment) detach(s *session, leave bool) {
	a.mu.Lock()
	if a.sess != s {
		a.mu.Unlock() // a resume already moved the participant on
		return
	}
	a.sess = nil
	window := a.srv.cfg.ResumeWindow
	if leave || window <= 0 || a.removed || a.moved || a.p == nil {
		a.mu.Unlock()
		a.srv.forget(a)
		if a.p != nil {
			a.p.Leave()
		}
		a.ended()
		return
	}
	a.expiry = time.AfterFunc(window, a.expire)
	a.mu.Unlock()
	s.logger.Info("socket lost, participant kept for resume", "window", window)
}

// expire ends a detached participant whose client did not come back.
func (a *attachment) expire() {
	a.mu.Lock()
	if a.sess != nil || a.expiry == nil {
		a.mu.Unlock()
		return
	}
	a.expiry = nil
	a.mu.Unlock()
	if !a.srv.claim(a) {
		return // the server is closing and leaves everyone itself
	}
	defer a.srv.wg.Done()
	a.srv.logger.Info("resume window passed, participant leaves", "participant", a.p.SID())
	a.p.Leave()
	a.ended()
}

// attach moves the participant to s and returns the socket it replaces
// (nil if it was detached) or false when the participant is gone.
func (a *attachment) attach(s *session, reply *Message) (old *session, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.removed || a.p == nil {
		return nil, false
	}
	a.stopExpiryLocked()
	old = a.sess
	a.sess = s
	s.send(reply) // before any event the participant gets from now on
	a.replayLocked(s)
	return old, true
}
