package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// member is one bot of the run and its role.
type member struct {
	name      string
	publisher bool
	subscribe bool
	bot       *bot.Bot
	connErr   error
}

// run starts the bots, publishers first so subscribers find their tracks in
// joined, lets them play for the duration (or until ctx ends) and returns
// the report of the final snapshot.
func run(ctx context.Context, o options, log *slog.Logger, stderr io.Writer) (*report, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	clips, err := media.Load()
	if err != nil {
		return nil, fmt.Errorf("load media: %w", err)
	}
	members, err := newMembers(o, clips, log)
	if err != nil {
		return nil, err
	}
	defer closeAll(members)

	var pubs, subs []*member
	for _, m := range members {
		if m.publisher {
			pubs = append(pubs, m)
		} else {
			subs = append(subs, m)
		}
	}
	connectAll(ctx, pubs, o.connectTimeout)
	connectAll(ctx, subs, o.connectTimeout)
	var tiles sync.WaitGroup
	defer tiles.Wait()
	if o.tileW > 0 {
		for _, m := range members {
			if m.subscribe && m.connErr == nil {
				tiles.Add(1)
				go func() {
					defer tiles.Done()
					sizeTiles(ctx, m.bot, o.tileW, o.tileH, log)
				}()
			}
		}
	}

	var tbl *liveTable
	if !o.quiet {
		tbl = newLiveTable(stderr, o)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			if tbl != nil {
				tbl.print(members, time.Since(start))
			}
		}
	}
	rep := buildReport(o, members, time.Since(start))
	var errs []error
	for _, m := range members {
		if m.connErr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.name, m.connErr))
		}
	}
	if !rep.healthy() {
		errs = append(errs, fmt.Errorf("%w: %d of %d tracks received, %d freezes", errUnhealthy,
			rep.TracksReceived, rep.TracksExpected, rep.Freezes))
	}
	return rep, errors.Join(errs...)
}

func newMembers(o options, clips *media.Clips, log *slog.Logger) ([]*member, error) {
	var members []*member
	add := func(name string, publisher, subscribe bool) error {
		tok, err := signaling.NewToken(o.key, o.secret, o.room, name, name, signaling.AllGrants(), o.duration+time.Hour)
		if err != nil {
			return fmt.Errorf("token for %s: %w", name, err)
		}
		b, err := bot.New(bot.Config{
			URL: o.url, Token: tok, Identity: name,
			Publish: publisher, Simulcast: o.simulcast, Subscribe: subscribe,
			Logger: log, AllowIPs: o.allowIPs, Media: clips,
			Transport: o.transport, TLSConfig: o.tlsConfig(),
		})
		if err != nil {
			return fmt.Errorf("bot %s: %w", name, err)
		}
		members = append(members, &member{name: name, publisher: publisher, subscribe: subscribe, bot: b})
		return nil
	}
	for i := range o.publishers {
		if err := add(fmt.Sprintf("pub-%d", i+1), true, o.publishersSubscribe); err != nil {
			return nil, err
		}
	}
	for i := range o.subscribers {
		if err := add(fmt.Sprintf("sub-%d", i+1), false, true); err != nil {
			return nil, err
		}
	}
	return members, nil
}

// connectAll connects bots concurrently; a failure is kept on the member
// (the run goes on and reports it).
func connectAll(ctx context.Context, ms []*member, timeout time.Duration) {
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			m.connErr = m.bot.Connect(cctx)
		}()
	}
	wg.Wait()
}

// sizeTiles sends setVideoSize once for every video track b receives, as a
// page does when it lays out a tile, until ctx ends.
func sizeTiles(ctx context.Context, b *bot.Bot, w, h int, log *slog.Logger) {
	sized := make(map[string]bool)
	for {
		var todo []string
		_, err := b.WaitStats(ctx, func(s bot.Stats) bool {
			todo = todo[:0]
			for _, t := range s.Tracks {
				if t.Kind == "video" && !sized[t.TrackSID] && t.Receiving() {
					todo = append(todo, t.TrackSID)
				}
			}
			return len(todo) > 0
		})
		if err != nil {
			return
		}
		for _, sid := range todo {
			sized[sid] = true
			if err := b.SetVideoSize(ctx, sid, w, h, -1); err != nil {
				log.Warn("setVideoSize", "track", sid, "err", err)
			}
		}
	}
}

func closeAll(ms []*member) {
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = m.bot.Close()
		}()
	}
	wg.Wait()
}

// tlsConfig is nil (system roots) unless --insecure-tls.
func (o options) tlsConfig() *tls.Config {
	if !o.insecureTLS {
		return nil
	}
	// Asked for by --insecure-tls: the certificate of a --dev-tls server.
	return &tls.Config{InsecureSkipVerify: true}
}
