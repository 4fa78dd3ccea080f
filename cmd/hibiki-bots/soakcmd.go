package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/soak"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// soakFlags are the --soak mode's flags: rooms join and leave continuously
// for --duration, each cycle with --soak-rooms rooms of --publishers and
// --subscribers, and the server's /healthz?verbose must return to its
// baseline after every cycle.
type soakFlags struct {
	enabled bool
	rooms   int
	play    time.Duration
	settle  time.Duration
}

func addSoakFlags(fs *flag.FlagSet) *soakFlags {
	s := &soakFlags{}
	fs.BoolVar(&s.enabled, "soak", false, "soak: rooms join and leave in cycles for --duration; the server (health_verbose or dev mode) must return to its baseline after each")
	fs.IntVar(&s.rooms, "soak-rooms", 2, "rooms per soak cycle")
	fs.DurationVar(&s.play, "soak-play", 3*time.Second, "media time per soak cycle (mutes and resizes happen in it)")
	fs.DurationVar(&s.settle, "soak-settle", 30*time.Second, "how long the server may take to return to its baseline after a cycle (its empty-room grace plus teardown)")
	return s
}

// runSoak runs the soak mode and prints its report.
func runSoak(ctx context.Context, o options, log *slog.Logger, stdout io.Writer) error {
	clips, err := media.Load()
	if err != nil {
		return fmt.Errorf("load media: %w", err)
	}
	health, err := healthURL(o.url)
	if err != nil {
		return err
	}
	rep, err := soak.Run(ctx, soak.Config{
		URL: o.url,
		Token: func(room, id string) (string, error) {
			return signaling.NewToken(o.key, o.secret, o.room+"-"+room, id, id, signaling.AllGrants(), o.duration+time.Hour)
		},
		ReadState: func(ctx context.Context) (soak.State, error) { return readHealth(ctx, health) },
		Duration:  o.duration, Rooms: o.soak.rooms, Publishers: max(o.publishers, 1), Subscribers: o.subscribers,
		Play: o.soak.play, Settle: o.soak.settle, GoroutineMargin: 10, FileMargin: 5,
		Media: clips, Logger: log,
	})
	if rep != nil {
		writeSoakReport(stdout, rep)
	}
	return err //nolint:wrapcheck // soak errors name their cycle
}

func writeSoakReport(w io.Writer, rep *soak.Report) {
	b := rep.Baseline
	fmt.Fprintf(w, "soak: %d cycles, %d participants served\n", len(rep.Cycles), rep.Served)
	fmt.Fprintf(w, "baseline: goroutines %d, open files %d, RSS %.1f MiB\n", b.Goroutines, b.OpenFiles, float64(b.RSSBytes)/(1<<20))
	for i, c := range rep.Cycles {
		fmt.Fprintf(w, "cycle %3d: %3d participants, %3d tracks, settled in %6v: rooms %d, participants %d, goroutines %d, open files %d, RSS %.1f MiB\n",
			i, c.Participants, c.Received, c.Settled.Round(time.Millisecond), c.End.Rooms, c.End.Participants,
			c.End.Goroutines, c.End.OpenFiles, float64(c.End.RSSBytes)/(1<<20))
	}
}

// healthURL turns ws://host/ws into http://host/healthz?verbose.
func healthURL(ws string) (string, error) {
	u, err := url.Parse(ws)
	if err != nil {
		return "", fmt.Errorf("%w: --url: %w", errUsage, err)
	}
	u.Scheme = strings.Replace(u.Scheme, "ws", "http", 1)
	u.Path, u.RawQuery = "/healthz", "verbose"
	return u.String(), nil
}

func readHealth(ctx context.Context, url string) (soak.State, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return soak.State{}, fmt.Errorf("health request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return soak.State{}, fmt.Errorf("health: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var h struct {
		Rooms, Participants, Goroutines, OpenFiles int
		RSSBytes                                   int64
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return soak.State{}, fmt.Errorf("health at %s is not the verbose report (set health_verbose or dev): %w", url, err)
	}
	return soak.State{Rooms: h.Rooms, Participants: h.Participants, Goroutines: h.Goroutines, OpenFiles: h.OpenFiles, RSSBytes: h.RSSBytes}, nil
}
