package signaling

import (
	"sync"
	"testing"
	"time"
)

// linkNet joins the lobbies of in-process servers the way cluster.Lobby
// does through Redis: what one node sets or sends reaches the others'
// LobbyRemote in order, on a goroutine of its own.
type linkNet struct {
	mu      sync.Mutex
	remotes map[string]LobbyRemote
	q       chan func()
	done    chan struct{}
	wg      sync.WaitGroup
}

func newLinkNet(t *testing.T) *linkNet {
	n := &linkNet{remotes: map[string]LobbyRemote{}, q: make(chan func(), 1024), done: make(chan struct{})}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			select {
			case f := <-n.q:
				f()
			case <-n.done:
				return
			}
		}
	}()
	t.Cleanup(func() { close(n.done); n.wg.Wait() })
	return n
}

func (n *linkNet) post(f func()) {
	select {
	case n.q <- f:
	case <-n.done:
	}
}

// node starts a lobby server that is node id of the net.
func (n *linkNet) node(t *testing.T, id string, timeout time.Duration) *harness {
	h := newHarness(t, func(c *Config) {
		c.MaxMessageSize = 8192
		c.Lobby = LobbyConfig{
			InviteTimeout: timeout,
			Mint: func(room, identity, name string, g Grants) (string, error) {
				return NewToken(testKey, testSecret, room, identity, name, g, time.Minute)
			},
			Link: pipeLink{node: id, net: n},
		}
	})
	n.mu.Lock()
	n.remotes[id] = h.sig.LobbyRemote()
	n.mu.Unlock()
	return h
}

type pipeLink struct {
	node string
	net  *linkNet
}

func (p pipeLink) Set(identity string, entry []byte) {
	p.net.post(func() {
		p.net.mu.Lock()
		defer p.net.mu.Unlock()
		for id, r := range p.net.remotes {
			if id != p.node {
				r.Entry(p.node, identity, entry)
			}
		}
	})
}

func (p pipeLink) Send(node string, msg []byte) {
	p.net.post(func() {
		p.net.mu.Lock()
		defer p.net.mu.Unlock()
		if r, ok := p.net.remotes[node]; ok {
			r.Message(p.node, msg)
		}
	})
}

// A member on one node sees the members of the other, and their calls on
// any node; a node that is gone takes its members along.
func TestLobbyLinkedPresence(t *testing.T) {
	net := newLinkNet(t)
	h1, h2 := net.node(t, "n1", time.Second), net.node(t, "n2", time.Second)
	alice, _ := h1.enterLobby(t, "alice")
	bob, r := h2.enterLobby(t, "bob")
	alice.await("bob online on n2", presenceOf("bob", StateAvailable))
	if len(r.Users) == 1 && r.Users[0].Identity != "alice" {
		t.Fatalf("bob's list: %+v", r.Users)
	}
	if len(r.Users) == 0 {
		bob.await("alice online on n1", presenceOf("alice", StateAvailable))
	}

	// bob's call runs on n1, where he has no lobby socket.
	room := h1.connect(t)
	room.join(h1.token(t, "call-x", "bob", AllGrants()))
	alice.await("bob in a call", presenceOf("bob", StateInCall))
	bob.await("bob sees himself in a call", presenceOf("bob", StateInCall))
	if rr := room.request(&Message{Type: TypeLeave}); rr.Type != TypeOK {
		t.Fatalf("leave: %+v", rr)
	}
	alice.await("bob available again", presenceOf("bob", StateAvailable))

	// An invite ringing when the far end's node is gone ends as offline.
	inv := alice.request(&Message{Type: TypeInvite, Identity: "bob"})
	bob.await("invited", func(m *Message) bool { return m.Type == TypeInvited && m.InviteID == inv.InviteID })
	h1.sig.LobbyRemote().Entry("n2", "bob", nil) // n2's record expired
	alice.await("bob offline", presenceOf("bob", StateOffline))
	ended := alice.await("invite ended", func(m *Message) bool { return m.Type == TypeInviteEnded })
	if ended.InviteID != inv.InviteID || ended.Reason != ReasonOffline {
		t.Fatalf("ended: %+v", ended)
	}
	// Malformed words from another node are dropped.
	h1.sig.LobbyRemote().Entry("n2", "eve", []byte("{"))
	h1.sig.LobbyRemote().Message("n2", []byte(`{"t":"invite"}`))
	alice.ping()
}
