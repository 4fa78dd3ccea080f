package signaling

import (
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"slices"
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
	// Link, when set, joins this server's lobby to those of the other
	// nodes of a cluster (docs/cluster.md "Lobby"): presence is then
	// cluster-wide and invites reach members on other nodes. Feed what
	// the other nodes publish to Server.LobbyRemote. Nil: the lobby is
	// this server's alone.
	Link LobbyLink
}

// LobbyLink carries the lobby between nodes; cluster.Lobby implements it.
// Both methods must not block: they are called with the lobby locked.
type LobbyLink interface {
	// Set publishes this node's entry for identity (JSON); nil removes it.
	Set(identity string, entry []byte)
	// Send delivers msg (JSON) to node's LobbyRemote.Message, at most once.
	Send(node string, msg []byte)
}

// member is one identity in the lobby and the socket it is on.
type member struct {
	sess     *session
	identity string
	name     string
	grants   Grants
}

// lobby is the presence registry of one signaling server: who is online,
// who is in a call (any room session open with their identity) and the
// pending invites; in a cluster also what the other nodes publish of
// theirs (lobbyremote.go). Events go out through session.send, which never
// blocks, after the lock is released (outbox).
type lobby struct {
	cfg LobbyConfig
	log *slog.Logger

	mu      sync.Mutex
	members map[string]*member // by identity
	calls   map[string]int     // identity -> open room sessions
	invites map[string]*invite // by id
	// remote holds the other nodes' entries: identity -> node -> entry.
	remote map[string]map[string]remoteEntry
	// announced is what this node published per identity (Link only).
	announced map[string]remoteEntry
	closed    bool
}

func newLobby(cfg LobbyConfig, log *slog.Logger) *lobby {
	if cfg.Room == "" {
		cfg.Room = "lobby"
	}
	if cfg.InviteTimeout <= 0 {
		cfg.InviteTimeout = 30 * time.Second
	}
	return &lobby{
		cfg: cfg, log: log.With("component", "lobby"),
		members: map[string]*member{}, calls: map[string]int{}, invites: map[string]*invite{},
		remote: map[string]map[string]remoteEntry{}, announced: map[string]remoteEntry{},
	}
}

// delivery is one event for one socket, sent once the lock is released.
type delivery struct {
	to *session
	m  *Message
}

type outbox []delivery

func (o *outbox) add(to *session, m *Message) { *o = append(*o, delivery{to, m}) }

func (o outbox) flush() {
	for _, d := range o {
		d.to.send(d.m)
	}
}

// viewLocked is identity as lobby members see it: in the lobby while it is
// a member here or on another node, in a call while it has a room session
// on any node.
func (l *lobby) viewLocked(identity string) (u PresenceUser, in bool) {
	u = PresenceUser{Identity: identity, State: StateAvailable}
	if m := l.members[identity]; m != nil {
		in, u.Name = true, m.name
	}
	inCall := l.calls[identity] > 0
	nodes := l.remote[identity]
	ids := make([]string, 0, len(nodes))
	for n := range nodes {
		ids = append(ids, n)
	}
	slices.Sort(ids)
	for _, n := range ids {
		e := nodes[n]
		if e.Lobby && !in {
			in, u.Name = true, e.Name
		}
		inCall = inCall || e.InCall
	}
	if inCall {
		u.State = StateInCall
	}
	return u, in
}

// changeLocked applies f, a change to what is known of identity, then
// queues a presence event for the local members (but except) when the view
// of identity changed (always when force is set) and publishes this node's
// entry for it.
func (l *lobby) changeLocked(identity string, except *member, force bool, out *outbox, f func()) {
	before, wasIn := l.viewLocked(identity)
	f()
	after, isIn := l.viewLocked(identity)
	l.announceLocked(identity)
	var ev *PresenceUser
	switch {
	case isIn && (force || !wasIn || before != after):
		ev = &after
	case wasIn && !isIn:
		ev = &PresenceUser{Identity: identity, Name: before.Name, State: StateOffline}
	default:
		return
	}
	for _, o := range l.members {
		if o != except {
			out.add(o.sess, &Message{Type: TypePresence, User: ev})
		}
	}
}

// enter adds m and returns its own entry, the others, and the member it
// replaced (same identity on another socket), if any.
func (l *lobby) enter(m *member) (self PresenceUser, others []PresenceUser, replaced *member) {
	var out outbox
	l.mu.Lock()
	replaced = l.members[m.identity]
	l.changeLocked(m.identity, m, true, &out, func() { l.members[m.identity] = m })
	self, _ = l.viewLocked(m.identity)
	others = l.othersLocked(m.identity)
	l.mu.Unlock()
	if replaced != nil {
		l.endInvitesOf(replaced)
	}
	out.flush()
	return self, others, replaced
}

// othersLocked lists everyone in the lobby but identity, sorted.
func (l *lobby) othersLocked(identity string) []PresenceUser {
	var others []PresenceUser
	seen := map[string]bool{identity: true}
	add := func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		if u, in := l.viewLocked(id); in {
			others = append(others, u)
		}
	}
	for id := range l.members {
		add(id)
	}
	for id := range l.remote {
		add(id)
	}
	slices.SortFunc(others, func(a, b PresenceUser) int {
		if a.Identity < b.Identity {
			return -1
		}
		if a.Identity > b.Identity {
			return 1
		}
		return 0
	})
	return others
}

// leave removes m (if it is still the member for its identity), ends its
// invites and tells the others.
func (l *lobby) leave(m *member) {
	l.endInvitesOf(m)
	var out outbox
	l.mu.Lock()
	if l.members[m.identity] == m {
		l.changeLocked(m.identity, m, false, &out, func() { delete(l.members, m.identity) })
	}
	l.mu.Unlock()
	out.flush()
}

// callChanged counts a room session of identity opening (+1) or closing
// (-1) and tells the lobby when its state changes.
func (l *lobby) callChanged(identity string, delta int) {
	var out outbox
	l.mu.Lock()
	l.changeLocked(identity, nil, false, &out, func() {
		l.calls[identity] += delta
		if l.calls[identity] <= 0 {
			delete(l.calls, identity)
		}
	})
	l.mu.Unlock()
	out.flush()
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
