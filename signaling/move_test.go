package signaling

import (
	"testing"
	"time"
)

// Redirect moves a room's participants: a connected one gets a redirect
// event (no id) and a normal close, a detached one leaves at once, and
// neither can resume; other rooms are untouched.
func TestRedirectMovesRoom(t *testing.T) {
	h := resumeHarness(t, 5*time.Second)
	a := h.connect(t)
	ja := a.join(h.token(t, "mv", "alice", AllGrants()))
	b := h.connect(t)
	b.join(h.token(t, "mv", "bob", AllGrants()))
	c := h.connect(t)
	c.join(h.token(t, "stay", "carol", AllGrants()))
	a.drop() // alice waits for a resume

	if n := h.sig.Redirect("mv", "ws://other/ws", "draining"); n != 2 {
		t.Fatalf("Redirect moved %d participants, want 2", n)
	}
	m := b.await("redirect", isType(TypeRedirect))
	if m.ID != "" || m.URL != "ws://other/ws" || m.Reason != "draining" {
		t.Fatalf("redirect event = %+v", m)
	}
	b.expectNormalClose()
	deadline := time.Now().Add(waitTimeout)
	for len(h.participants("mv")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("room still holds %v", h.participants("mv"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := h.participants("stay"); len(got) != 1 {
		t.Fatalf("other room holds %v", got)
	}
	a2 := h.connect(t)
	r := a2.request(&Message{Type: TypeJoin, Token: h.token(t, "mv", "alice", AllGrants()), Resume: ja.SessionID})
	if r.Type != TypeJoined || r.Resumed {
		t.Fatalf("resume after a move answered %+v, want a fresh join", r)
	}
	if n := h.sig.Redirect("none", "ws://other/ws", "draining"); n != 0 {
		t.Fatalf("Redirect of an unknown room moved %d", n)
	}
	c.ping()
}
