// Package soak runs rooms that fill and empty again, cycle after cycle, for
// a set time (publishers, subscribers, mutes, tile resizes, hidden tiles),
// and checks after every cycle that the server returned to its baseline:
// no room or participant left, goroutines and open files back where they
// started. hibiki-bots --soak and the e2e soak test both drive it.
package soak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
)

// State is what the soak reads from the server between cycles.
type State struct {
	Rooms, Participants   int
	Goroutines, OpenFiles int
	RSSBytes              int64
}

// Config describes a soak run.
type Config struct {
	// URL is the signaling WebSocket; Token mints a join token.
	URL   string
	Token func(room, identity string) (string, error)
	// ReadState reads the server's state (in-process, or /healthz?verbose).
	ReadState func(ctx context.Context) (State, error)
	// Duration of the whole run; a cycle that starts runs to its end.
	Duration time.Duration
	// Rooms per cycle, and publishers and subscribers in each.
	Rooms, Publishers, Subscribers int
	// Play is how long each cycle's media plays once everyone receives.
	Play time.Duration
	// Settle bounds the wait for the baseline after a cycle (the server's
	// empty-room grace and connection teardown).
	Settle time.Duration
	// GoroutineMargin and FileMargin are how far above the baseline a
	// settled server may stay (pools, timers, keep-alive connections).
	GoroutineMargin, FileMargin int
	Media                       *media.Clips
	Logger                      *slog.Logger
}

// Cycle is one cycle's outcome.
type Cycle struct {
	Participants int           // bots that joined and played
	Received     int           // tracks received across the subscribers
	Settled      time.Duration // from the last leave to the baseline
	End          State
}

// Report is a whole run.
type Report struct {
	Baseline State
	Cycles   []Cycle
	// Served counts participants over all cycles.
	Served int
}

// Errors of a run.
var (
	ErrNotSettled = errors.New("soak: server did not return to its baseline")
	ErrConfig     = errors.New("soak: invalid config")
)

// Run soaks the server until cfg.Duration has passed or ctx ends. It
// returns the report so far and the first failure.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.URL == "" || cfg.Token == nil || cfg.ReadState == nil || cfg.Rooms < 1 || cfg.Publishers < 1 {
		return nil, fmt.Errorf("%w: URL, Token, ReadState, rooms and publishers are required", ErrConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	base, err := cfg.ReadState(ctx)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	rep := &Report{Baseline: base}
	end := time.Now().Add(cfg.Duration)
	for i := 0; time.Now().Before(end) && ctx.Err() == nil; i++ {
		c, err := runCycle(ctx, cfg, i)
		rep.Served += c.Participants
		if err == nil {
			err = settle(ctx, cfg, base, &c)
		}
		rep.Cycles = append(rep.Cycles, c)
		cfg.Logger.Info("soak cycle", "cycle", i, "participants", c.Participants, "received", c.Received,
			"settled", c.Settled, "goroutines", c.End.Goroutines, "fds", c.End.OpenFiles, "rss", c.End.RSSBytes)
		if err != nil {
			return rep, fmt.Errorf("cycle %d: %w", i, err)
		}
	}
	return rep, nil
}

// runCycle fills cfg.Rooms rooms, plays, and has everyone leave.
func runCycle(ctx context.Context, cfg Config, n int) (Cycle, error) {
	var c Cycle
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, cfg.Rooms)
	for r := range cfg.Rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			joined, received, err := runRoom(ctx, cfg, fmt.Sprintf("soak-%d-%d", n, r))
			mu.Lock()
			c.Participants += joined
			c.Received += received
			mu.Unlock()
			errs[r] = err
		}()
	}
	wg.Wait()
	return c, errors.Join(errs...)
}

// runRoom plays one room for a cycle; it returns the bots that joined and
// the tracks the subscribers received.
func runRoom(ctx context.Context, cfg Config, room string) (joined, received int, err error) {
	var bots []*bot.Bot
	defer func() {
		lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, b := range bots {
			_ = b.Leave(lctx)
		}
	}()
	start := func(id string, publish bool) (*bot.Bot, error) {
		tok, err := cfg.Token(room, id)
		if err != nil {
			return nil, err
		}
		b, err := bot.New(bot.Config{URL: cfg.URL, Token: tok, Identity: id, Publish: publish, Subscribe: !publish,
			Media: cfg.Media, Logger: cfg.Logger, ResumeWindow: -1})
		if err != nil {
			return nil, fmt.Errorf("bot %s: %w", id, err)
		}
		bots = append(bots, b)
		if err := b.Connect(ctx); err != nil {
			return nil, fmt.Errorf("bot %s in %s: %w", id, room, err)
		}
		joined++
		return b, nil
	}
	var pubs, subs []*bot.Bot
	for i := range cfg.Publishers {
		b, err := start(fmt.Sprintf("pub-%d", i), true)
		if err != nil {
			return joined, 0, err
		}
		pubs = append(pubs, b)
	}
	for i := range cfg.Subscribers {
		b, err := start(fmt.Sprintf("sub-%d", i), false)
		if err != nil {
			return joined, 0, err
		}
		subs = append(subs, b)
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for _, s := range subs {
		if err := s.WaitTracks(wctx, 2*cfg.Publishers); err != nil {
			return joined, received, fmt.Errorf("%s: tracks: %w", room, err)
		}
		received += 2 * cfg.Publishers
	}
	return joined, received, play(ctx, cfg, pubs, subs)
}

// play mutes and unmutes the first publisher's video and resizes, hides
// and shows every subscriber's tiles while media plays.
func play(ctx context.Context, cfg Config, pubs, subs []*bot.Bot) error {
	steps := []func(context.Context) error{
		func(ctx context.Context) error { return pubs[0].SetMuted(ctx, "video", true) },
		func(ctx context.Context) error { return resizeAll(ctx, subs, 320, 180) },
		func(ctx context.Context) error { return pubs[0].SetMuted(ctx, "video", false) },
		func(ctx context.Context) error { return resizeAll(ctx, subs, 0, 0) },
		func(ctx context.Context) error { return resizeAll(ctx, subs, 1280, 720) },
	}
	pause := cfg.Play / time.Duration(len(steps)+1)
	for _, step := range steps {
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

func resizeAll(ctx context.Context, subs []*bot.Bot, w, h int) error {
	for _, s := range subs {
		for _, tr := range s.RemoteTracks() {
			if tr.Info.Kind != "video" {
				continue
			}
			if err := s.SetVideoSize(ctx, tr.Info.SID, w, h, -1); err != nil {
				return fmt.Errorf("setVideoSize: %w", err)
			}
		}
	}
	return nil
}

// settle waits until the server is back at its baseline and records the
// state it settled at.
func settle(ctx context.Context, cfg Config, base State, c *Cycle) error {
	start := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	limit := time.NewTimer(cfg.Settle)
	defer limit.Stop()
	for {
		st, err := cfg.ReadState(ctx)
		if err != nil {
			return fmt.Errorf("read state: %w", err)
		}
		c.End, c.Settled = st, time.Since(start)
		if st.Rooms == 0 && st.Participants == 0 && st.Goroutines <= base.Goroutines+cfg.GoroutineMargin &&
			st.OpenFiles <= base.OpenFiles+cfg.FileMargin {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-limit.C:
			return fmt.Errorf("%w after %v: %+v (baseline %+v)", ErrNotSettled, cfg.Settle, st, base)
		case <-tick.C:
		}
	}
}
