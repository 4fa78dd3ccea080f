package signaling

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"
)

// maxOutgoingInvites bounds the invites one member may have ringing, so a
// client cannot ring the whole lobby at once.
const maxOutgoingInvites = 1

// invite is a pending 1:1 call request. When one end is on another node
// (cluster), that end's pointer is nil and node names its node: the
// caller's node owns the invite (its timer decides the timeout, it mints
// the room); the callee's node keeps a copy to route the answer.
type invite struct {
	id       string
	from, to *member
	node     string       // the node of the end that is not here; "" when both are
	peer     PresenceUser // that end, as shown to the local one
	answered bool         // callee's copy: accepted, waiting for the caller's node
	timer    *time.Timer
}

// invite rings to from from. It returns the invite id.
func (l *lobby) invite(from *member, identity string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.Mint == nil || l.closed {
		return "", newError(CodeForbidden, "invites are disabled on this server", nil)
	}
	to := l.members[identity]
	node := ""
	if to == nil {
		if node = l.remoteNodeLocked(identity); node == "" {
			return "", newError(CodeNotFound, "no such identity in the lobby", nil)
		}
	}
	if to == from || identity == from.identity {
		return "", newError(CodeBadRequest, "cannot invite yourself", nil)
	}
	n := 0
	for _, inv := range l.invites {
		if inv.from == from {
			n++
		}
	}
	if n >= maxOutgoingInvites {
		return "", newError(CodeRateLimited, "an invite is already ringing; cancel it first", nil)
	}
	inv := &invite{id: newInviteID(), from: from, to: to, node: node}
	inv.timer = l.afterTimeout(inv.id, l.cfg.InviteTimeout)
	l.invites[inv.id] = inv
	fromUser, _ := l.viewLocked(from.identity)
	if to != nil {
		to.sess.send(&Message{Type: TypeInvited, InviteID: inv.id, From: &fromUser})
		return inv.id, nil
	}
	inv.peer, _ = l.viewLocked(identity)
	l.sendLocked(node, wireMsg{T: wireInvite, ID: inv.id, To: identity, User: &fromUser})
	return inv.id, nil
}

func (l *lobby) afterTimeout(id string, d time.Duration) *time.Timer {
	return time.AfterFunc(d, func() { _ = l.end(id, nil, ReasonTimeout) })
}

// take removes a pending invite; by must be one of its ends (nil: the
// timer).
func (l *lobby) take(id string, by *member) (*invite, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	inv := l.invites[id]
	if inv == nil || (by != nil && by != inv.from && by != inv.to) {
		return nil, newError(CodeNotFound, "no such invite", nil)
	}
	delete(l.invites, id)
	inv.timer.Stop()
	return inv, nil
}

// end finishes an invite without a call and tells both ends but the one
// who ended it (by; nil for a timeout, which both hear about). An end on
// another node is told through its node.
func (l *lobby) end(id string, by *member, reason string) error {
	inv, err := l.take(id, by)
	if err != nil {
		return err
	}
	for _, m := range []*member{inv.from, inv.to} {
		if m != nil && m != by {
			m.sess.send(&Message{Type: TypeInviteEnded, InviteID: id, Reason: reason})
		}
	}
	if inv.node != "" {
		l.mu.Lock()
		l.sendLocked(inv.node, wireMsg{T: wireEnd, ID: id, Reason: reason})
		l.mu.Unlock()
	}
	return nil
}

// answer accepts or rejects an invite addressed to by.
func (l *lobby) answer(id string, by *member, accept bool) error {
	l.mu.Lock()
	inv := l.invites[id]
	if inv == nil || inv.to != by || inv.answered {
		l.mu.Unlock()
		return newError(CodeNotFound, "no such invite", nil)
	}
	if accept && inv.from == nil {
		// The caller's node mints the room and tells us (remoteAccepted).
		inv.answered = true
		l.sendLocked(inv.node, wireMsg{T: wireAnswer, ID: id})
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	if !accept {
		return l.end(id, by, ReasonRejected)
	}
	inv, err := l.take(id, by)
	if err != nil {
		return err
	}
	room := newCallRoom()
	toks, err := l.mint(room, inv.from, inv.to)
	if err != nil {
		for _, e := range []*member{inv.from, inv.to} {
			e.sess.send(&Message{Type: TypeInviteEnded, InviteID: id, Reason: "failed"})
		}
		return err
	}
	l.mu.Lock()
	fromUser, _ := l.viewLocked(inv.from.identity)
	toUser, _ := l.viewLocked(inv.to.identity)
	l.mu.Unlock()
	inv.from.sess.send(&Message{Type: TypeInviteAccepted, InviteID: id, Room: room, Token: toks[0], Peer: &toUser})
	inv.to.sess.send(&Message{Type: TypeInviteAccepted, InviteID: id, Room: room, Token: toks[1], Peer: &fromUser})
	return nil
}

// mint signs a token for room for each of ms.
func (l *lobby) mint(room string, ms ...*member) ([]string, error) {
	toks := make([]string, len(ms))
	for i, m := range ms {
		var err error
		if toks[i], err = l.cfg.Mint(room, m.identity, m.name, m.grants); err != nil {
			return nil, newError(CodeInternal, "cannot mint call tokens", err)
		}
	}
	return toks, nil
}

// endInvitesOf ends every invite m is an end of: m left the lobby.
func (l *lobby) endInvitesOf(m *member) {
	l.mu.Lock()
	var ids []string
	for id, inv := range l.invites {
		if inv.from == m || inv.to == m {
			ids = append(ids, id)
		}
	}
	l.mu.Unlock()
	for _, id := range ids {
		_ = l.end(id, m, ReasonOffline)
	}
}

// newCallRoom mints the name of a 1:1 call room: unguessable, so only
// holders of the minted tokens know where the call is.
func newCallRoom() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "call-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
