package signaling

import (
	"testing"
	"time"
)

func lobbyHarness(t *testing.T, timeout time.Duration) *harness {
	t.Helper()
	return newHarness(t, func(c *Config) {
		c.MaxMessageSize = 8192
		c.Lobby = LobbyConfig{
			InviteTimeout: timeout,
			Mint: func(room, identity, name string, g Grants) (string, error) {
				return NewToken(testKey, testSecret, room, identity, name, g, time.Minute)
			},
		}
	})
}

// enterLobby opens a lobby socket as identity.
func (h *harness) enterLobby(t *testing.T, identity string) (*client, *Message) {
	t.Helper()
	c := h.connect(t)
	r := c.request(&Message{Type: TypeLobby, Token: h.token(t, "lobby", identity, AllGrants())})
	if r.Type != TypeLobbyJoined {
		t.Fatalf("lobby answered with %+v", r)
	}
	return c, r
}

func presenceOf(identity, state string) func(*Message) bool {
	return func(m *Message) bool {
		return m.Type == TypePresence && m.User != nil && m.User.Identity == identity && m.User.State == state
	}
}

func TestLobbyPresence(t *testing.T) {
	h := lobbyHarness(t, time.Second)
	alice, r := h.enterLobby(t, "alice")
	if r.User == nil || r.User.State != StateAvailable || len(r.Users) != 0 {
		t.Fatalf("first lobby member: %+v", r)
	}
	bob, r := h.enterLobby(t, "bob")
	if len(r.Users) != 1 || r.Users[0].Identity != "alice" || r.Users[0].State != StateAvailable {
		t.Fatalf("bob sees %+v", r.Users)
	}
	alice.await("bob online", presenceOf("bob", StateAvailable))

	// bob joins a room on another socket: in a call until it leaves.
	room := h.connect(t)
	room.join(h.token(t, "some-room", "bob", AllGrants()))
	alice.await("bob in a call", presenceOf("bob", StateInCall))
	if r := room.request(&Message{Type: TypeLeave}); r.Type != TypeOK {
		t.Fatalf("leave: %+v", r)
	}
	alice.await("bob available again", presenceOf("bob", StateAvailable))

	_ = bob.conn.Close()
	alice.await("bob offline", presenceOf("bob", StateOffline))
}

func TestLobbyRefusals(t *testing.T) {
	h := lobbyHarness(t, time.Second)
	cases := []struct {
		name string
		msg  func(t *testing.T) *Message
		code string
	}{
		{"lobby with a room token", func(t *testing.T) *Message {
			return &Message{Type: TypeLobby, Token: h.token(t, "room", "x", AllGrants())}
		}, CodeForbidden},
		{"join with a lobby token", func(t *testing.T) *Message {
			return &Message{Type: TypeJoin, Token: h.token(t, "lobby", "x", AllGrants())}
		}, CodeForbidden},
		{"invite before lobby", func(*testing.T) *Message { return &Message{Type: TypeInvite, Identity: "bob"} }, CodeNotJoined},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := h.connect(t)
			if r := cl.request(c.msg(t)); r.Type != TypeError || r.Code != c.code {
				t.Fatalf("got %+v, want error %s", r, c.code)
			}
		})
	}
	alice, _ := h.enterLobby(t, "alice")
	for _, c := range []struct {
		name string
		msg  *Message
		code string
	}{
		{"invite nobody", &Message{Type: TypeInvite, Identity: "nobody"}, CodeNotFound},
		{"invite yourself", &Message{Type: TypeInvite, Identity: "alice"}, CodeBadRequest},
		{"answer an unknown invite", &Message{Type: TypeAnswerInvite, InviteID: "IV_X", Accept: new(bool)}, CodeNotFound},
		{"answer without accept", &Message{Type: TypeAnswerInvite, InviteID: "IV_X"}, CodeBadRequest},
		{"cancel an unknown invite", &Message{Type: TypeCancelInvite, InviteID: "IV_X"}, CodeNotFound},
	} {
		if r := alice.request(c.msg); r.Type != TypeError || r.Code != c.code {
			t.Errorf("%s: got %+v, want error %s", c.name, r, c.code)
		}
	}
}

func TestInviteFlows(t *testing.T) {
	accept, reject := true, false
	cases := []struct {
		name    string
		act     func(t *testing.T, alice, bob *client, id string)
		aliceEv string // reason alice is told, "" for an accepted call
		bobEv   string
	}{
		{"accept", func(_ *testing.T, _, bob *client, id string) {
			// The accepted event comes before the reply: await it below.
			bob.send(&Message{Type: TypeAnswerInvite, ID: "acc", InviteID: id, Accept: &accept})
		}, "", ""},
		{"reject", func(t *testing.T, _, bob *client, id string) {
			if r := bob.request(&Message{Type: TypeAnswerInvite, InviteID: id, Accept: &reject}); r.Type != TypeOK {
				t.Fatalf("reject: %+v", r)
			}
		}, ReasonRejected, ""},
		{"timeout", func(*testing.T, *client, *client, string) {}, ReasonTimeout, ReasonTimeout},
		{"cancel", func(t *testing.T, alice, _ *client, id string) {
			if r := alice.request(&Message{Type: TypeCancelInvite, InviteID: id}); r.Type != TypeOK {
				t.Fatalf("cancel: %+v", r)
			}
		}, "", ReasonCancelled},
		{"caller goes offline", func(_ *testing.T, alice, _ *client, _ string) { _ = alice.conn.Close() }, "", ReasonOffline},
	}
	for _, c := range cases {
		for _, linked := range []bool{false, true} {
			name := c.name
			if linked {
				name += " across nodes"
			}
			t.Run(name, func(t *testing.T) { inviteFlow(t, linked, c.name, c.act, c.aliceEv, c.bobEv) })
		}
	}
}

// inviteFlow runs one case of TestInviteFlows, with alice and bob on one
// server or, linked, on two servers of a cluster.
func inviteFlow(t *testing.T, linked bool, name string, act func(t *testing.T, alice, bob *client, id string), aliceEv, bobEv string) {
	h := lobbyHarness(t, 200*time.Millisecond)
	hb := h
	if linked {
		net := newLinkNet(t)
		h, hb = net.node(t, "n1", 200*time.Millisecond), net.node(t, "n2", 200*time.Millisecond)
	}
	alice, _ := h.enterLobby(t, "alice")
	bob, _ := hb.enterLobby(t, "bob")
	alice.await("bob online", presenceOf("bob", StateAvailable))
	r := alice.request(&Message{Type: TypeInvite, Identity: "bob"})
	if r.Type != TypeOK || r.InviteID == "" {
		t.Fatalf("invite: %+v", r)
	}
	id := r.InviteID
	if name != "timeout" {
		if r := alice.request(&Message{Type: TypeInvite, Identity: "bob"}); r.Code != CodeRateLimited {
			t.Errorf("second invite while one rings: %+v", r)
		}
	}
	ring := bob.await("invited", func(m *Message) bool { return m.Type == TypeInvited })
	if ring.InviteID != id || ring.From == nil || ring.From.Identity != "alice" {
		t.Fatalf("invited: %+v", ring)
	}
	act(t, alice, bob, id)
	if name == "accept" {
		a := alice.await("accepted", func(m *Message) bool { return m.Type == TypeInviteAccepted })
		b := bob.await("accepted", func(m *Message) bool { return m.Type == TypeInviteAccepted })
		if a.Room == "" || a.Room != b.Room || a.Token == "" || b.Token == "" || a.Peer.Identity != "bob" || b.Peer.Identity != "alice" {
			t.Fatalf("accepted: alice %+v, bob %+v", a, b)
		}
		for who, tok := range map[string]string{"alice": a.Token, "bob": b.Token} {
			claims, err := KeySet{testKey: testSecret}.Verify(tok)
			if err != nil || claims.Room != a.Room || claims.Identity() != who {
				t.Errorf("%s's call token: %+v, %v", who, claims, err)
			}
		}
		return
	}
	ended := func(cl *client, reason string) {
		m := cl.await("inviteEnded", func(m *Message) bool { return m.Type == TypeInviteEnded })
		if m.InviteID != id || m.Reason != reason {
			t.Errorf("inviteEnded %+v, want reason %s", m, reason)
		}
	}
	if aliceEv != "" {
		ended(alice, aliceEv)
	}
	if bobEv != "" {
		ended(bob, bobEv)
	}
}
