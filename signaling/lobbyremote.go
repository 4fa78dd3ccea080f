package signaling

import (
	"encoding/json"
	"slices"
	"time"
)

// calleeGrace is how much longer than the invite timeout the callee's node
// keeps its copy of an invite from another node: the caller's node decides
// the timeout and says so; this only covers that node dying, or its word
// being lost.
const calleeGrace = 2 * time.Second

// remoteEntry is what a node publishes of one identity (LobbyLink.Set): a
// lobby member there, and/or in a call there. A call is published only for
// identities that are in the lobby somewhere, so rooms unrelated to the
// lobby cost Redis nothing.
type remoteEntry struct {
	Name   string `json:"name,omitempty"`
	Lobby  bool   `json:"lobby,omitempty"`
	InCall bool   `json:"inCall,omitempty"`
}

// Messages between the lobbies of two nodes (LobbyLink.Send).
const (
	wireInvite   = "invite"   // caller's node -> callee's: ring To
	wireAnswer   = "answer"   // callee's -> caller's: accepted
	wireAccepted = "accepted" // caller's -> callee's: the room is Room
	wireEnd      = "end"      // either way: ended with Reason
)

type wireMsg struct {
	T      string        `json:"t"`
	ID     string        `json:"id"`
	To     string        `json:"to,omitempty"`
	User   *PresenceUser `json:"user,omitempty"` // the caller (invite) or the peer (accepted)
	Room   string        `json:"room,omitempty"`
	Reason string        `json:"reason,omitempty"`
}

// announceLocked publishes this node's entry for identity when it changed.
func (l *lobby) announceLocked(identity string) {
	if l.cfg.Link == nil {
		return
	}
	var e remoteEntry
	if m := l.members[identity]; m != nil {
		e.Lobby, e.Name = true, m.name
	}
	e.InCall = l.calls[identity] > 0
	old, had := l.announced[identity]
	if !e.Lobby && !(e.InCall && l.remoteNodeLocked(identity) != "") {
		if had {
			delete(l.announced, identity)
			l.cfg.Link.Set(identity, nil)
		}
		return
	}
	if had && old == e {
		return
	}
	data, err := json.Marshal(e)
	if err != nil {
		return
	}
	l.announced[identity] = e
	l.cfg.Link.Set(identity, data)
}

// remoteNodeLocked names a node where identity is in the lobby ("" when
// none is), the same one on every call.
func (l *lobby) remoteNodeLocked(identity string) string {
	var nodes []string
	for n, e := range l.remote[identity] {
		if e.Lobby {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		return ""
	}
	return slices.Min(nodes)
}

func (l *lobby) sendLocked(node string, w wireMsg) {
	if l.cfg.Link == nil {
		return
	}
	data, err := json.Marshal(w)
	if err != nil {
		return
	}
	l.cfg.Link.Send(node, data)
}

// LobbyRemote feeds this server's lobby with what the other nodes of a
// cluster publish; cluster.Lobby delivers to it (it is a
// cluster.LobbyHandler). Its methods do not block.
type LobbyRemote struct{ l *lobby }

// LobbyRemote returns the receiver of the other nodes' lobby entries and
// messages.
func (s *Server) LobbyRemote() LobbyRemote { return LobbyRemote{s.lobby} }

// Entry records node's entry for identity (nil: gone) and tells the local
// members what changed for them.
func (r LobbyRemote) Entry(node, identity string, value []byte) {
	l := r.l
	var e remoteEntry
	if value != nil && json.Unmarshal(value, &e) != nil {
		l.log.Warn("malformed lobby entry from another node", "node", node, "identity", identity)
		return
	}
	var out outbox
	var ended []string
	l.mu.Lock()
	l.changeLocked(identity, nil, false, &out, func() {
		if value == nil {
			delete(l.remote[identity], node)
			if len(l.remote[identity]) == 0 {
				delete(l.remote, identity)
			}
			return
		}
		if l.remote[identity] == nil {
			l.remote[identity] = map[string]remoteEntry{}
		}
		l.remote[identity][node] = e
	})
	if !e.Lobby {
		// The far end of these invites left the lobby (or its node died).
		for id, inv := range l.invites {
			if inv.node == node && inv.peer.Identity == identity {
				ended = append(ended, id)
			}
		}
	}
	l.mu.Unlock()
	out.flush()
	for _, id := range ended {
		_ = l.end(id, nil, ReasonOffline)
	}
}

// Message handles an invite message from node from.
func (r LobbyRemote) Message(from string, msg []byte) {
	var w wireMsg
	if err := json.Unmarshal(msg, &w); err != nil || w.ID == "" {
		r.l.log.Warn("malformed lobby message from another node", "node", from)
		return
	}
	switch w.T {
	case wireInvite:
		r.l.remoteInvite(from, w)
	case wireAnswer:
		r.l.remoteAnswer(from, w.ID)
	case wireAccepted:
		r.l.remoteAccepted(from, w)
	case wireEnd:
		if inv := r.l.takeFrom(from, w.ID); inv != nil {
			for _, m := range []*member{inv.from, inv.to} {
				if m != nil {
					m.sess.send(&Message{Type: TypeInviteEnded, InviteID: w.ID, Reason: w.Reason})
				}
			}
		}
	}
}

// takeFrom removes the invite id shared with node; nil when there is none.
func (l *lobby) takeFrom(node, id string) *invite {
	l.mu.Lock()
	defer l.mu.Unlock()
	inv := l.invites[id]
	if inv == nil || inv.node != node {
		return nil
	}
	delete(l.invites, id)
	inv.timer.Stop()
	return inv
}

// remoteInvite rings a local member for a caller on node.
func (l *lobby) remoteInvite(node string, w wireMsg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	to := l.members[w.To]
	if to == nil || l.closed || l.cfg.Mint == nil || w.User == nil || l.invites[w.ID] != nil {
		l.sendLocked(node, wireMsg{T: wireEnd, ID: w.ID, Reason: ReasonOffline})
		return
	}
	inv := &invite{id: w.ID, to: to, node: node, peer: *w.User}
	inv.timer = l.afterTimeout(w.ID, l.cfg.InviteTimeout+calleeGrace)
	l.invites[w.ID] = inv
	to.sess.send(&Message{Type: TypeInvited, InviteID: w.ID, From: w.User})
}

// remoteAnswer: the callee on node accepted; mint the room, tell our
// caller and the callee's node.
func (l *lobby) remoteAnswer(node, id string) {
	inv := l.takeFrom(node, id)
	if inv == nil || inv.from == nil {
		return // ended meanwhile: node was told
	}
	room := newCallRoom()
	toks, err := l.mint(room, inv.from)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.log.Error("cannot mint call token", "err", err)
		inv.from.sess.send(&Message{Type: TypeInviteEnded, InviteID: id, Reason: "failed"})
		l.sendLocked(node, wireMsg{T: wireEnd, ID: id, Reason: "failed"})
		return
	}
	fromUser, _ := l.viewLocked(inv.from.identity)
	peer, _ := l.viewLocked(inv.peer.Identity)
	inv.from.sess.send(&Message{Type: TypeInviteAccepted, InviteID: id, Room: room, Token: toks[0], Peer: &peer})
	l.sendLocked(node, wireMsg{T: wireAccepted, ID: id, Room: room, User: &fromUser})
}

// remoteAccepted: the caller's node made the room; give our callee its
// token for it (minted here, with the grants of its lobby token).
func (l *lobby) remoteAccepted(node string, w wireMsg) {
	inv := l.takeFrom(node, w.ID)
	if inv == nil || inv.to == nil {
		return
	}
	if w.Room == "" || !validText(w.Room) || w.User == nil {
		inv.to.sess.send(&Message{Type: TypeInviteEnded, InviteID: w.ID, Reason: "failed"})
		return
	}
	toks, err := l.mint(w.Room, inv.to)
	if err != nil {
		l.log.Error("cannot mint call token", "err", err)
		inv.to.sess.send(&Message{Type: TypeInviteEnded, InviteID: w.ID, Reason: "failed"})
		return
	}
	inv.to.sess.send(&Message{Type: TypeInviteAccepted, InviteID: w.ID, Room: w.Room, Token: toks[0], Peer: w.User})
}
