package signaling

import (
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// drop ends the client's socket without a close frame, as a lost network
// would.
func (c *client) drop() {
	c.t.Helper()
	_ = c.conn.UnderlyingConn().Close()
	c.expectClosed()
}

// noEvent checks that no message of typ arrived at c so far; a ping makes
// sure everything sent before it was read.
func (c *client) noEvent(typ string) {
	c.t.Helper()
	c.nextID++
	id := "probe-" + strconv.Itoa(c.nextID)
	c.send(&Message{Type: TypePing, ID: id})
	c.await("pong", func(m *Message) bool {
		if m.Type == typ {
			c.t.Errorf("unexpected %s: %+v", typ, m)
		}
		return m.ID == id
	})
}

func resumeHarness(t *testing.T, window time.Duration) *harness {
	return newHarness(t, func(c *Config) { c.ResumeWindow = window })
}

// A participant whose socket drops comes back with join+resume on a new
// socket: same participant, resumed:true, and the others see neither a
// participantLeft nor a participantJoined.
func TestResumeKeepsParticipant(t *testing.T) {
	h := resumeHarness(t, 5*time.Second)
	a := h.connect(t)
	ja := a.join(h.token(t, "res", "alice", AllGrants()))
	b := h.connect(t)
	b.join(h.token(t, "res", "bob", AllGrants()))
	a.await("participantJoined", isType(TypeParticipantJoined))

	a.drop()
	a2 := h.connect(t)
	r := a2.request(&Message{Type: TypeJoin, Token: h.token(t, "res", "alice", AllGrants()), Resume: ja.SessionID})
	if r.Type != TypeJoined || !r.Resumed || r.SessionID != ja.SessionID {
		t.Fatalf("resume answered %+v", r)
	}
	if len(r.Participants) != 1 || r.Participants[0].Identity != "bob" {
		t.Errorf("resumed joined lists %+v, want bob", r.Participants)
	}
	b.noEvent(TypeParticipantLeft)
	b.noEvent(TypeParticipantJoined)
	if got := h.participants("res"); len(got) != 2 || !slices.Contains(got, ja.SessionID) {
		t.Errorf("room holds %v", got)
	}
	a2.ping()
}

// A resume on a new socket while the old one is still open (the client
// noticed the loss first) supersedes the old socket.
func TestResumeSupersedesOpenSocket(t *testing.T) {
	h := resumeHarness(t, 5*time.Second)
	a := h.connect(t)
	ja := a.join(h.token(t, "sup", "alice", AllGrants()))
	b := h.connect(t)
	b.join(h.token(t, "sup", "bob", AllGrants()))
	a2 := h.connect(t)
	r := a2.request(&Message{Type: TypeJoin, Token: h.token(t, "sup", "alice", AllGrants()), Resume: ja.SessionID})
	if !r.Resumed {
		t.Fatalf("resume answered %+v", r)
	}
	a.expectClosed()
	b.noEvent(TypeParticipantLeft)
	a2.ping()
	if n := len(h.participants("sup")); n != 2 {
		t.Errorf("room holds %d participants", n)
	}
}

// Without a resume within the window the participant leaves; a late
// resume is a fresh join.
func TestResumeWindowExpires(t *testing.T) {
	h := resumeHarness(t, 200*time.Millisecond)
	a := h.connect(t)
	ja := a.join(h.token(t, "exp", "alice", AllGrants()))
	b := h.connect(t)
	b.join(h.token(t, "exp", "bob", AllGrants()))
	start := time.Now()
	a.drop()
	left := b.await("participantLeft", isType(TypeParticipantLeft))
	if left.ParticipantSID != ja.SessionID {
		t.Fatalf("participantLeft for %q", left.ParticipantSID)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("left after %v, before the window", waited)
	}
	a2 := h.connect(t)
	r := a2.request(&Message{Type: TypeJoin, Token: h.token(t, "exp", "alice", AllGrants()), Resume: ja.SessionID})
	if r.Type != TypeJoined || r.Resumed || r.SessionID == ja.SessionID {
		t.Fatalf("late resume answered %+v, want a fresh join", r)
	}
}

// A normal close (the page went away) or leave ends the participant at
// once, window or not.
func TestNormalCloseLeavesAtOnce(t *testing.T) {
	h := resumeHarness(t, time.Minute)
	a := h.connect(t)
	ja := a.join(h.token(t, "bye", "alice", AllGrants()))
	b := h.connect(t)
	b.join(h.token(t, "bye", "bob", AllGrants()))
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
	if err := a.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	left := b.await("participantLeft", isType(TypeParticipantLeft))
	if left.ParticipantSID != ja.SessionID {
		t.Fatalf("participantLeft for %q", left.ParticipantSID)
	}
}

// A resume needs a token of the same identity and room.
func TestResumeRefusesOtherIdentity(t *testing.T) {
	h := resumeHarness(t, 5*time.Second)
	a := h.connect(t)
	ja := a.join(h.token(t, "id", "alice", AllGrants()))
	a.drop()
	for _, tok := range []string{h.token(t, "id", "mallory", AllGrants()), h.token(t, "other", "alice", AllGrants())} {
		c := h.connect(t)
		r := c.request(&Message{Type: TypeJoin, Token: tok, Resume: ja.SessionID})
		if r.Type != TypeError || r.Code != CodeForbidden {
			t.Errorf("resume with a foreign token answered %+v", r)
		}
	}
	if got := h.participants("id"); !slices.Equal(got, []string{ja.SessionID}) {
		t.Errorf("room holds %v", got)
	}
}

// Server shutdown ends participants waiting for a resume.
func TestCloseEndsDetachedParticipants(t *testing.T) {
	h := resumeHarness(t, time.Minute)
	a := h.connect(t)
	a.join(h.token(t, "shut", "alice", AllGrants()))
	a.drop()
	h.sig.Close()
	if got := h.participants("shut"); len(got) != 0 {
		t.Errorf("room holds %v after Close", got)
	}
}

// ICE servers are minted per join, and a relay-only room says so.
func TestJoinedICEConfigPerJoin(t *testing.T) {
	var calls atomic.Int32
	h := newHarness(t, func(c *Config) {
		c.ICEServersFor = func(cl *Claims) []ICEServer {
			calls.Add(1)
			return []ICEServer{{URLs: []string{"turn:127.0.0.1:3478"}, Username: cl.Identity(), Credential: "x"}}
		}
	})
	a := h.connect(t)
	ja := a.join(h.token(t, "ice", "alice", AllGrants()))
	if len(ja.ICEServers) != 1 || ja.ICEServers[0].Username != "alice" || ja.ICETransportPolicy != "" {
		t.Fatalf("joined ice config %+v policy %q", ja.ICEServers, ja.ICETransportPolicy)
	}
	h.sfu.Room("ice").SetRelayOnly(true)
	b := h.connect(t)
	jb := b.join(h.token(t, "ice", "bob", AllGrants()))
	if jb.ICETransportPolicy != ICETransportPolicyRelay || jb.ICEServers[0].Username != "bob" {
		t.Fatalf("relay-only joined: policy %q servers %+v", jb.ICETransportPolicy, jb.ICEServers)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("ICEServersFor called %d times, want 2", n)
	}
}
