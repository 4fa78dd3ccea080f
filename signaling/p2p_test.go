package signaling

import (
	"strings"
	"testing"
	"time"
)

func (c *client) joinP2P(token string) *Message {
	c.t.Helper()
	r := c.request(&Message{Type: TypeJoin, Token: token, Capabilities: []string{CapabilityP2P}})
	if r.Type != TypeJoined {
		c.t.Fatalf("join answered with %+v", r)
	}
	return r
}

// expectNone fails if a message matching pred arrives within d.
func (c *client) expectNone(what string, d time.Duration, pred func(*Message) bool) {
	c.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatalf("socket closed while checking that no %s comes", what)
			}
			if pred(m) {
				c.t.Fatalf("unexpected %s: %+v", what, m)
			}
		case <-timer.C:
			return
		}
	}
}

// TestP2PSession drives one room through the P2P state machine over real
// sockets: two capable clients are told to connect directly, their SDP and
// ICE are relayed verbatim, both ready makes the session active, a third
// participant ends it, and after the third leaves the pair goes direct
// again only after the settle time.
func TestP2PSession(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxMessageSize = 64 << 10 })
	alice, bob := h.connect(t), h.connect(t)
	a := alice.joinP2P(h.token(t, "p2p", "alice", AllGrants()))
	b := bob.joinP2P(h.token(t, "p2p", "bob", AllGrants()))

	pa := alice.await("p2p", isType(TypeP2P))
	pb := bob.await("p2p", isType(TypeP2P))
	if pa.Role != P2PRoleOffer || pb.Role != P2PRoleAnswer || pa.Session == "" || pa.Session != pb.Session {
		t.Fatalf("p2p roles/sessions: alice %+v, bob %+v", pa, pb)
	}
	if pa.ParticipantSID != b.SessionID || pb.ParticipantSID != a.SessionID {
		t.Fatalf("p2p names the wrong peer: alice told %s, bob told %s", pa.ParticipantSID, pb.ParticipantSID)
	}
	session := pa.Session

	sdp := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n"
	alice.send(&Message{Type: TypeP2POffer, Session: session, SDP: sdp, Mids: map[string]string{"0": "TR_a"}})
	off := bob.await("relayed offer", isType(TypeP2POffer))
	if off.SDP != sdp || off.Mids["0"] != "TR_a" || off.ParticipantSID != a.SessionID || off.Session != session {
		t.Fatalf("relayed offer: %+v", off)
	}
	bob.send(&Message{Type: TypeP2PAnswer, Session: session, SDP: sdp})
	alice.await("relayed answer", isType(TypeP2PAnswer))
	cand := &ICECandidate{Candidate: "candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host", SDPMid: strPtr("0")}
	bob.send(&Message{Type: TypeP2PCandidate, Session: session, Candidate: cand})
	if c := alice.await("relayed candidate", isType(TypeP2PCandidate)); c.Candidate == nil || c.Candidate.Candidate != cand.Candidate {
		t.Fatalf("relayed candidate: %+v", c)
	}

	for _, c := range []*client{alice, bob} {
		if r := c.request(&Message{Type: TypeP2PReady, Session: session}); r.Type != TypeOK {
			t.Fatalf("p2pReady answered %+v", r)
		}
	}
	room := h.sfu.Room("p2p")
	if st := room.P2P(); !st.Active || st.Session != session {
		t.Fatalf("room P2P status %+v, want session %s active", st, session)
	}

	carol := h.connect(t)
	carol.join(h.token(t, "p2p", "carol", AllGrants()))
	for _, c := range []*client{alice, bob} {
		end := c.await("p2pEnd", isType(TypeP2PEnd))
		if end.Session != session || end.Reason != "participants" {
			t.Fatalf("p2pEnd %+v", end)
		}
	}
	carol.expectNone("p2p for the newcomer", 200*time.Millisecond, isType(TypeP2P))
	// A relay racing with the end is dropped without an error.
	alice.send(&Message{Type: TypeP2PCandidate, Session: session, Candidate: cand})
	alice.ping()

	if r := carol.request(&Message{Type: TypeLeave}); r.Type != TypeOK {
		t.Fatalf("leave: %+v", r)
	}
	start := time.Now()
	alice.expectNone("p2p before the settle time", 4*time.Second, isType(TypeP2P))
	again := alice.await("p2p again after the settle", isType(TypeP2P))
	if d := time.Since(start); d < 4*time.Second || again.Session == session {
		t.Fatalf("second session %s after %v", again.Session, d)
	}

	// A failure ends the session for both (the end comes before the ok).
	bob.await("bob's p2p again", isType(TypeP2P))
	bob.send(&Message{Type: TypeP2PFailed, Session: again.Session})
	for _, c := range []*client{alice, bob} {
		if end := c.await("p2pEnd after failure", isType(TypeP2PEnd)); end.Reason != "failed" {
			t.Fatalf("p2pEnd %+v, want reason failed", end)
		}
	}
}

func TestP2PNeedsBothCapable(t *testing.T) {
	h := newHarness(t, nil)
	alice, bob := h.connect(t), h.connect(t)
	alice.joinP2P(h.token(t, "mixed", "alice", AllGrants()))
	bob.join(h.token(t, "mixed", "bob", AllGrants()))
	alice.expectNone("p2p with a peer that cannot", 300*time.Millisecond, isType(TypeP2P))

	off, err := h.sfu.CreateRoom("off")
	if err != nil {
		t.Fatal(err)
	}
	off.SetP2P(false)
	c1, c2 := h.connect(t), h.connect(t)
	c1.joinP2P(h.token(t, "off", "c1", AllGrants()))
	c2.joinP2P(h.token(t, "off", "c2", AllGrants()))
	c1.expectNone("p2p in a room with P2P off", 300*time.Millisecond, isType(TypeP2P))
}

func TestP2PRelayValidation(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxMessageSize = 128 << 10 })
	c := h.connect(t)
	c.joinP2P(h.token(t, "val", "alice", AllGrants()))
	mids := map[string]string{}
	for i := range 40 {
		mids[strings.Repeat("m", i+1)] = "TR_x"
	}
	tests := []struct {
		name string
		msg  Message
	}{
		{"no session", Message{Type: TypeP2POffer, SDP: "v=0\r\n"}},
		{"long session", Message{Type: TypeP2PReady, Session: strings.Repeat("s", 65)}},
		{"no sdp", Message{Type: TypeP2PAnswer, Session: "P2P_x"}},
		{"sdp over 32 KiB", Message{Type: TypeP2POffer, Session: "P2P_x", SDP: strings.Repeat("a", 33<<10)}},
		{"too many mids", Message{Type: TypeP2POffer, Session: "P2P_x", SDP: "v=0\r\n", Mids: mids}},
		{"no candidate", Message{Type: TypeP2PCandidate, Session: "P2P_x"}},
		{"long candidate", Message{Type: TypeP2PCandidate, Session: "P2P_x", Candidate: &ICECandidate{Candidate: strings.Repeat("c", 2000)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			if r := c.request(&tt.msg); r.Type != TypeError || r.Code != CodeBadRequest {
				t.Fatalf("reply %+v, want bad_request", r)
			}
		})
	}
	c.t = t
	// Well-formed messages for a session that does not exist change nothing.
	c.send(&Message{Type: TypeP2POffer, Session: "P2P_gone", SDP: "v=0\r\n"})
	c.ping() // relays have no reply; an error would come before the pong
	for _, m := range []Message{
		{Type: TypeP2PReady, Session: "P2P_gone"},
		{Type: TypeP2PFailed, Session: "P2P_gone"},
	} {
		if r := c.request(&m); r.Type == TypeError {
			t.Errorf("%s for an unknown session: %+v", m.Type, r)
		}
	}
}
