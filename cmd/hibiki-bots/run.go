package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// member is one bot of the run and its role.
type member struct {
	name      string
	room      string
	publisher bool
	subscribe bool
	bot       *bot.Bot
	// connErr is written once by the connecting goroutine before done is
	// set; read it only after done.
	connErr error
	done    atomic.Bool
}

// err is the member's connect error once its connect has finished.
func (m *member) err() error {
	if !m.done.Load() {
		return nil
	}
	return m.connErr
}

// run starts the bots, publishers first so subscribers find their tracks in
// joined, at the ramp rate, lets them play for the duration (or until ctx
// ends) and returns the report of the final snapshot. The live table and
// the per-second series run from the start, so a ramp shows its progress.
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
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		connectAll(ctx, pubs, o, log, &wg)
		connectAll(ctx, subs, o, log, &wg)
	}()

	var tbl *liveTable
	if !o.quiet {
		tbl = newLiveTable(stderr, o)
	}
	ser := newSeries(start, tracksExpected(o))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case now := <-tick.C:
			ser.sample(now, members)
			if tbl != nil {
				tbl.print(members, time.Since(start))
			}
		}
	}
	cancel()
	wg.Wait()
	rep := buildReport(o, members, time.Since(start))
	rep.Series, rep.AllReceivingS = ser.points, ser.allAt
	rep.StartedAt = start.UTC().Format(time.RFC3339Nano)
	var errs []error
	for _, m := range members {
		if err := m.err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.name, err))
		}
	}
	if !rep.healthy() {
		errs = append(errs, fmt.Errorf("%w: %d of %d tracks received, %d freezes", errUnhealthy,
			rep.TracksReceived, rep.TracksExpected, rep.Freezes))
	}
	return rep, errors.Join(errs...)
}

func newMembers(o options, clips *media.Clips, log *slog.Logger) ([]*member, error) {
	var pubs, subs []*member
	add := func(list *[]*member, room, name string, publisher, subscribe bool) error {
		tok, err := signaling.NewToken(o.key, o.secret, room, name, name, signaling.AllGrants(), o.duration+time.Hour)
		if err != nil {
			return fmt.Errorf("token for %s: %w", name, err)
		}
		b, err := bot.New(bot.Config{
			URL: o.url, FallbackURLs: o.fallbackURLs, Token: tok, Identity: name,
			Publish: publisher, Simulcast: o.simulcast, Subscribe: subscribe, NoVideo: o.audioOnly,
			Logger: log, AllowIPs: o.allowIPs, Media: clips,
			Transport: o.transport, TLSConfig: o.tlsConfig(),
		})
		if err != nil {
			return fmt.Errorf("bot %s: %w", name, err)
		}
		*list = append(*list, &member{name: name, room: room, publisher: publisher, subscribe: subscribe, bot: b})
		return nil
	}
	for r := range max(1, o.rooms) {
		room := o.roomName(r)
		for i := range o.publishers {
			if err := add(&pubs, room, o.botName(r, "pub", i), true, o.publishersSubscribe); err != nil {
				return nil, err
			}
		}
		for i := range o.subscribers {
			if err := add(&subs, room, o.botName(r, "sub", i), false, true); err != nil {
				return nil, err
			}
		}
	}
	return append(pubs, subs...), nil
}

// connectAll connects bots concurrently, starting one every 1/o.ramp
// seconds (all at once without a ramp), and waits for them; a failure is
// kept on the member (the run goes on and reports it). With --tile, each
// receiving bot then sizes its tiles in a goroutine counted in tiles.
func connectAll(ctx context.Context, ms []*member, o options, log *slog.Logger, tiles *sync.WaitGroup) {
	var wg sync.WaitGroup
	var pace <-chan time.Time
	if o.ramp > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.ramp))
		defer t.Stop()
		pace = t.C
	}
	for i, m := range ms {
		if pace != nil && i > 0 {
			select {
			case <-pace:
			case <-ctx.Done():
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, o.connectTimeout)
			m.connErr = m.bot.Connect(cctx)
			cancel()
			m.done.Store(true)
			if m.connErr == nil && m.subscribe && o.tileW > 0 {
				tiles.Add(1)
				go func() {
					defer tiles.Done()
					sizeTiles(ctx, m.bot, o.tileW, o.tileH, log)
				}()
			}
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
