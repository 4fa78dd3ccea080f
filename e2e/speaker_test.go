package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// speakingBot publishes audio only, speaking when talk says so.
func speakingBot(ctx context.Context, t *testing.T, srv *server, room, id string, talk func(time.Duration) bool) *bot.Bot {
	t.Helper()
	b, err := bot.New(bot.Config{
		URL: srv.url, Room: room, Identity: id, Publish: true, NoVideo: true,
		Speaking: talk, Media: clips(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	return b
}

// A speaks for 4 s, then B for 4 s, while C coughs (300 ms bursts) all
// along: the dominant speaker goes A then B, each within 1.5 s of the turn,
// C is never dominant, and there is one change per turn.
func TestDominantSpeakerFollowsTurns(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	const room = "talk"
	observer := newBot(ctx, t, srv, room, "observer", false, true)
	var mu sync.Mutex // t0 is read by the bots' audio goroutines
	t0 := time.Now()
	since := func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return time.Since(t0)
	}
	a := speakingBot(ctx, t, srv, room, "A", func(time.Duration) bool { return since() < 4*time.Second })
	b := speakingBot(ctx, t, srv, room, "B", func(time.Duration) bool {
		e := since()
		return e >= 4*time.Second && e < 8*time.Second
	})
	c := speakingBot(ctx, t, srv, room, "C", func(time.Duration) bool { return since()%(1500*time.Millisecond) < 300*time.Millisecond })
	// The turns count from when the observer receives all three: Connect
	// returns at the publish answer, and ICE and DTLS after it took up to
	// 1.5 s under -race on a loaded machine, which is not the detector's
	// delay. A keeps talking meanwhile.
	if _, err := observer.WaitStats(ctx, func(st bot.Stats) bool { return st.Totals.TracksReceiving >= 3 }); err != nil {
		t.Fatalf("observer never received the three speakers: %v", err)
	}
	mu.Lock()
	t0 = time.Now()
	mu.Unlock()
	isDominant := func(sid string) func(*signaling.Message) bool {
		return func(m *signaling.Message) bool { return m.Type == signaling.TypeActiveSpeakers && m.Dominant == sid }
	}
	if _, err := observer.WaitMessage(ctx, isDominant(a.Self().SID)); err != nil {
		t.Fatalf("A never dominant: %v", err)
	}
	aAt := since()
	if _, err := observer.WaitMessage(ctx, isDominant(b.Self().SID)); err != nil {
		t.Fatalf("B never dominant: %v", err)
	}
	bAt := since()
	if aAt > 1500*time.Millisecond {
		t.Errorf("A became dominant after %v, want within 1.5 s", aAt)
	}
	if bAt < 4*time.Second || bAt > 5500*time.Millisecond {
		t.Errorf("B became dominant at %v, want within 1.5 s after 4 s", bAt)
	}
	var seq []string
	for _, m := range observer.Events() {
		if m.Type != signaling.TypeActiveSpeakers {
			continue
		}
		if m.Dominant == c.Self().SID {
			t.Errorf("the cougher C became dominant")
		}
		if len(seq) == 0 || seq[len(seq)-1] != m.Dominant {
			seq = append(seq, m.Dominant)
		}
	}
	want := []string{a.Self().SID, b.Self().SID}
	if len(seq) < 2 || seq[len(seq)-2] != want[0] || seq[len(seq)-1] != want[1] || len(seq) > 3 {
		t.Errorf("dominant sequence %v, want [(none) A B] = %v", seq, want)
	}
	t.Logf("A dominant at %v, B at %v (turn at 4 s)", aAt, bAt)
}
