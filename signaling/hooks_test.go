package signaling

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// OnError sees the code of every error sent; OnJoin sees each successful
// join once, refused ones never.
func TestHooks(t *testing.T) {
	var (
		mu    sync.Mutex
		codes []string
		joins []time.Duration
	)
	h := newHarness(t, func(c *Config) {
		c.OnError = func(code string) { mu.Lock(); codes = append(codes, code); mu.Unlock() }
		c.OnJoin = func(d time.Duration) { mu.Lock(); joins = append(joins, d); mu.Unlock() }
	})
	a := h.connect(t)
	if r := a.request(&Message{Type: TypeMute, TrackSID: "TR_x"}); r.Code != CodeNotJoined {
		t.Fatalf("mute before join = %+v", r)
	}
	a.join(h.token(t, "hooks", "alice", AllGrants()))
	if r := a.request(&Message{Type: TypeMute, TrackSID: "TR_x"}); r.Code != CodeBadRequest {
		t.Fatalf("mute without muted = %+v", r)
	}
	b := h.connect(t)
	if r := b.request(&Message{Type: TypeJoin, Token: "garbage"}); r.Code != CodeBadToken {
		t.Fatalf("bad join = %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{CodeNotJoined, CodeBadRequest, CodeBadToken}; !slices.Equal(codes, want) {
		t.Errorf("OnError saw %v, want %v", codes, want)
	}
	if len(joins) != 1 || joins[0] <= 0 {
		t.Errorf("OnJoin saw %v, want one positive duration", joins)
	}
}
