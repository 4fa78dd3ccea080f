package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/soak"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// soakTime is the soak test's length: 60 s in CI, longer on request
// (HIBIKI_SOAK=10m).
func soakTime(t *testing.T) time.Duration {
	t.Helper()
	if v := os.Getenv("HIBIKI_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("HIBIKI_SOAK: %v", err)
		}
		return d
	}
	if testing.Short() {
		t.Skip("soak skipped in -short mode")
	}
	return time.Minute
}

// Rooms fill and empty for a minute (publishers, subscribers, mutes,
// resizes, hidden tiles); after every cycle the server is back at its
// baseline: no room, no participant, goroutines and open files as before.
func TestSoak(t *testing.T) {
	d := soakTime(t)
	srv := startServer(t, func(c *app.Config) { c.Limits.JoinsPerIPPerMinute = 0 })
	ctx := deadline(t, d+2*time.Minute)
	state := func(context.Context) (soak.State, error) {
		h := srv.app.Health()
		return soak.State{Rooms: h.Rooms, Participants: h.Participants, Goroutines: h.Goroutines,
			OpenFiles: h.OpenFiles, RSSBytes: h.RSSBytes}, nil
	}
	rep, err := soak.Run(ctx, soak.Config{
		URL: srv.url,
		Token: func(room, id string) (string, error) {
			return signaling.NewToken(signaling.DevAPIKey, signaling.DevAPISecret, room, id, id, signaling.AllGrants(), time.Hour)
		},
		ReadState: state, Duration: d,
		Rooms: 2, Publishers: 1, Subscribers: 2, Play: 2 * time.Second, Settle: 20 * time.Second,
		GoroutineMargin: 5, FileMargin: 3, Media: clips(t),
	})
	if rep != nil {
		last := rep.Baseline
		if n := len(rep.Cycles); n > 0 {
			last = rep.Cycles[n-1].End
		}
		t.Logf("soak %v: %d cycles, %d participants served; baseline goroutines %d fds %d RSS %d MiB; end goroutines %d fds %d RSS %d MiB",
			d, len(rep.Cycles), rep.Served, rep.Baseline.Goroutines, rep.Baseline.OpenFiles, rep.Baseline.RSSBytes>>20,
			last.Goroutines, last.OpenFiles, last.RSSBytes>>20)
		for i, c := range rep.Cycles {
			t.Logf("cycle %d: %d participants, %d tracks received, settled in %v, goroutines %d fds %d",
				i, c.Participants, c.Received, c.Settled.Round(time.Millisecond), c.End.Goroutines, c.End.OpenFiles)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cycles) < 2 {
		t.Fatalf("only %d cycles in %v", len(rep.Cycles), d)
	}
}
