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

// invite rings to from from. It returns the invite id.
func (l *lobby) invite(from *member, identity string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.Mint == nil || l.closed {
		return "", newError(CodeForbidden, "invites are disabled on this server", nil)
	}
	to := l.members[identity]
	if to == nil {
		return "", newError(CodeNotFound, "no such identity in the lobby", nil)
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
	inv := &invite{id: newInviteID(), from: from, to: to}
	inv.timer = l.afterTimeout(inv.id)
	l.invites[inv.id] = inv
	fromUser := l.userLocked(from)
	to.sess.send(&Message{Type: TypeInvited, InviteID: inv.id, From: &fromUser})
	return inv.id, nil
}

func (l *lobby) afterTimeout(id string) *time.Timer {
	return time.AfterFunc(l.cfg.InviteTimeout, func() { _ = l.end(id, nil, ReasonTimeout) })
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
// who ended it (by; nil for a timeout, which both hear about).
func (l *lobby) end(id string, by *member, reason string) error {
	inv, err := l.take(id, by)
	if err != nil {
		return err
	}
	for _, m := range []*member{inv.from, inv.to} {
		if m != by {
			m.sess.send(&Message{Type: TypeInviteEnded, InviteID: id, Reason: reason})
		}
	}
	return nil
}

// answer accepts or rejects an invite addressed to by.
func (l *lobby) answer(id string, by *member, accept bool) error {
	l.mu.Lock()
	inv := l.invites[id]
	l.mu.Unlock()
	if inv == nil || inv.to != by {
		return newError(CodeNotFound, "no such invite", nil)
	}
	if !accept {
		return l.end(id, by, ReasonRejected)
	}
	inv, err := l.take(id, by)
	if err != nil {
		return err
	}
	room := newCallRoom()
	toks := make([]string, 2)
	for i, m := range []*member{inv.from, inv.to} {
		if toks[i], err = l.cfg.Mint(room, m.identity, m.name, m.grants); err != nil {
			for _, e := range []*member{inv.from, inv.to} {
				e.sess.send(&Message{Type: TypeInviteEnded, InviteID: id, Reason: "failed"})
			}
			return newError(CodeInternal, "cannot mint call tokens", err)
		}
	}
	l.mu.Lock()
	fromUser, toUser := l.userLocked(inv.from), l.userLocked(inv.to)
	l.mu.Unlock()
	inv.from.sess.send(&Message{Type: TypeInviteAccepted, InviteID: id, Room: room, Token: toks[0], Peer: &toUser})
	inv.to.sess.send(&Message{Type: TypeInviteAccepted, InviteID: id, Room: room, Token: toks[1], Peer: &fromUser})
	return nil
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
