package signaling

import (
	"crypto/rand"
	"encoding/base32"
	"sort"
	"sync"
	"time"
)

// Presence states shown in the lobby.
const (
	StateAvailable = "available"
	StateInCall    = "in_call"
	StateOffline   = "offline" // only in the presence event of someone leaving
)

// Reasons an invite ended without a call.
const (
	ReasonRejected  = "rejected"
	ReasonTimeout   = "timeout"
	ReasonCancelled = "cancelled"
	ReasonOffline   = "offline"
)

// PresenceUser is one lobby member as others see it.
type PresenceUser struct {
	Identity string `json:"identity"`
	Name     string `json:"name,omitempty"`
	State    string `json:"state"`
}

// LobbyConfig configures presence and invites (docs/protocol.md "Lobby").
type LobbyConfig struct {
	// Room is the room claim of a token that enters the lobby; such a
	// token cannot join a media room of that name. Default "lobby".
	Room string
	// InviteTimeout is how long an invite rings. Default 30 s.
	InviteTimeout time.Duration
	// Mint signs a join token for a call room the server created. The
	// server trusts the identities of lobby members (their lobby tokens
	// were verified), so it gives both ends of an accepted invite a token
	// for the new room, with the grants of their lobby tokens. Nil
	// disables invites.
	Mint func(room, identity, name string, grants Grants) (string, error)
}

// member is one identity in the lobby and the socket it is on.
type member struct {
	sess     *session
	identity string
	name     string
	grants   Grants
}

// invite is a pending 1:1 call request.
type invite struct {
	id       string
	from, to *member
	timer    *time.Timer
}

// lobby is the presence registry of one signaling server: who is online,
// who is in a call (any room session open with their identity) and the
// pending invites. Events go out through session.send, which never blocks.
type lobby struct {
	cfg LobbyConfig

	mu      sync.Mutex
	members map[string]*member // by identity
	calls   map[string]int     // identity -> open room sessions
	invites map[string]*invite // by id
	closed  bool
}

func newLobby(cfg LobbyConfig) *lobby {
	if cfg.Room == "" {
		cfg.Room = "lobby"
	}
	if cfg.InviteTimeout <= 0 {
		cfg.InviteTimeout = 30 * time.Second
	}
	return &lobby{cfg: cfg, members: map[string]*member{}, calls: map[string]int{}, invites: map[string]*invite{}}
}

func (l *lobby) stateLocked(identity string) string {
	if l.calls[identity] > 0 {
		return StateInCall
	}
	return StateAvailable
}

func (l *lobby) userLocked(m *member) PresenceUser {
	return PresenceUser{Identity: m.identity, Name: m.name, State: l.stateLocked(m.identity)}
}

// enter adds m and returns its own entry, the others, and the member it
// replaced (same identity on another socket), if any.
func (l *lobby) enter(m *member) (self PresenceUser, others []PresenceUser, replaced *member) {
	l.mu.Lock()
	replaced = l.members[m.identity]
	l.members[m.identity] = m
	self = l.userLocked(m)
	var peers []*member
	for _, o := range l.members {
		if o != m {
			others = append(others, l.userLocked(o))
			peers = append(peers, o)
		}
	}
	l.mu.Unlock()
	sort.Slice(others, func(i, j int) bool { return others[i].Identity < others[j].Identity })
	if replaced != nil {
		l.endInvitesOf(replaced)
	}
	for _, o := range peers {
		o.sess.send(&Message{Type: TypePresence, User: &self})
	}
	return self, others, replaced
}

// leave removes m (if it is still the member for its identity), ends its
// invites and tells the others.
func (l *lobby) leave(m *member) {
	l.endInvitesOf(m)
	l.mu.Lock()
	if l.members[m.identity] != m {
		l.mu.Unlock()
		return
	}
	delete(l.members, m.identity)
	peers := l.othersLocked(nil)
	l.mu.Unlock()
	gone := PresenceUser{Identity: m.identity, Name: m.name, State: StateOffline}
	for _, o := range peers {
		o.sess.send(&Message{Type: TypePresence, User: &gone})
	}
}

func (l *lobby) othersLocked(except *member) []*member {
	out := make([]*member, 0, len(l.members))
	for _, o := range l.members {
		if o != except {
			out = append(out, o)
		}
	}
	return out
}

// callChanged counts a room session of identity opening (+1) or closing
// (-1) and tells the lobby when its state changes.
func (l *lobby) callChanged(identity string, delta int) {
	l.mu.Lock()
	before := l.stateLocked(identity)
	l.calls[identity] += delta
	if l.calls[identity] <= 0 {
		delete(l.calls, identity)
	}
	m := l.members[identity]
	if m == nil || l.stateLocked(identity) == before {
		l.mu.Unlock()
		return
	}
	u := l.userLocked(m)
	peers := l.othersLocked(nil)
	l.mu.Unlock()
	for _, o := range peers {
		o.sess.send(&Message{Type: TypePresence, User: &u})
	}
}

func newInviteID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "IV_" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

func (l *lobby) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for id, inv := range l.invites {
		inv.timer.Stop()
		delete(l.invites, id)
	}
}
