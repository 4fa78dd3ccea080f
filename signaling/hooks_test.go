package signaling

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/sfu"
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

// discard is a notifier for a participant joined straight through the SFU.
type discard struct{}

func (discard) Notify(sfu.Event) {}

// A participant who joins while another's join is in progress (between the
// SFU adding it and its reply going out) must reach that client after the
// joined reply: the reply's snapshot lacks it, and a client that takes the
// snapshot as its list would otherwise forget it. OnJoin runs in exactly
// that gap, so carol joins from there.
func TestJoinedComesBeforeEvents(t *testing.T) {
	var (
		h    *harness
		once sync.Once
	)
	h = newHarness(t, func(c *Config) {
		c.OnJoin = func(time.Duration) {
			once.Do(func() {
				if _, _, err := h.sfu.Join("order", sfu.JoinRequest{Identity: "carol", Name: "Carol"}, discard{}); err != nil {
					t.Errorf("carol's join: %v", err)
				}
			})
		}
	})
	a := h.connect(t)
	a.send(&Message{Type: TypeJoin, ID: "j", Token: h.token(t, "order", "alice", AllGrants())})
	first := a.await("a first message", func(*Message) bool { return true })
	if first.Type != TypeJoined || first.ID != "j" {
		t.Fatalf("first message %s (id %q), want the joined reply", first.Type, first.ID)
	}
	for _, p := range first.Participants {
		if p.Identity == "carol" {
			t.Fatalf("joined lists carol, who joined after the snapshot: the test no longer covers the gap")
		}
	}
	ev := a.await("participantJoined", isType(TypeParticipantJoined))
	if ev.Participant == nil || ev.Participant.Identity != "carol" {
		t.Fatalf("participantJoined = %+v, want carol", ev.Participant)
	}
}
