package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster/redistest"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
)

// startSpanNode runs node id of a cluster whose rooms span nodes.
func startSpanNode(t *testing.T, redis, id string) *server {
	t.Helper()
	cfg := testConfig()
	ln := listen(t, cfg.Listen)
	cfg.Redis.Address = redis
	cfg.Node.ID = id
	cfg.Node.URL = "ws://" + ln.Addr().String() + "/ws"
	cfg.Node.Heartbeat, cfg.Node.TTL = clusterBeat, clusterTTL
	cfg.Node.SpanRooms = true
	cfg.Admin.Key = adminKey
	cfg.NodeCPU = func() float64 { return 0 }
	return serve(t, cfg, ln)
}

// spanBot connects a bot to url and fails the test if it is redirected:
// in a spanning cluster every node serves the rooms it is asked for.
func spanBot(ctx context.Context, t *testing.T, cfg bot.Config) *bot.Bot {
	t.Helper()
	cfg.Media = clips(t)
	cfg.ResumeWindow = -1
	b, err := bot.New(cfg)
	if err != nil {
		t.Fatalf("bot %s: %v", cfg.Identity, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Connect(ctx); err != nil {
		t.Fatalf("bot %s connect: %v", cfg.Identity, err)
	}
	if b.SignalURL() != cfg.URL {
		t.Fatalf("bot %s served by %s, want %s (no redirect when rooms span)", cfg.Identity, b.SignalURL(), cfg.URL)
	}
	return b
}

// A spanning room: 2 publishers on node a, 10 subscribers on node b. Node
// a sends each track to b once (4 relays, not 40); every subscriber
// receives every track with no freeze; a subscriber on b that resizes its
// tile gets the other simulcast layer, chosen on b.
func TestClusterSpanningRoom(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startSpanNode(t, rs.Addr(), "a"), startSpanNode(t, rs.Addr(), "b")
	ctx := deadline(t, 90*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })

	var pubs []*bot.Bot
	for i := range 2 {
		pubs = append(pubs, spanBot(ctx, t, bot.Config{URL: a.url, Room: "span", Identity: fmt.Sprintf("pub%d", i), Publish: true, Simulcast: true}))
	}
	var subs []*bot.Bot
	for i := range 10 {
		subs = append(subs, spanBot(ctx, t, bot.Config{URL: b.url, Room: "span", Identity: fmt.Sprintf("sub%d", i), Subscribe: true}))
	}
	start := time.Now()
	for _, s := range subs {
		st, err := s.WaitStats(ctx, func(s bot.Stats) bool { return s.Totals.TracksReceiving >= 4 && s.VideoFrames() >= 2*30 })
		if err != nil {
			t.Fatalf("%s: %v (stats %+v)", s.Self().Identity, err, st.Totals)
		}
	}
	t.Logf("10 subscribers on b receive 4 tracks from a after %v", time.Since(start))

	relaysOut := a.app.SFU().Counters().RelaysOut.Load()
	relaysIn := b.app.SFU().Counters().RelaysIn.Load()
	if relaysOut != 4 || relaysIn != 4 {
		t.Errorf("relays: a sends %d, b receives %d; want 4 each (one per track and node)", relaysOut, relaysIn)
	}
	if n := b.app.SFU().Counters().RelaysOut.Load(); n != 0 {
		t.Errorf("b relays %d tracks; it publishes none", n)
	}
	// Presence: the publishers on a see the subscribers on b.
	for _, p := range pubs {
		waitFor(ctx, t, p.Self().Identity+" sees 11 others", func() bool { return len(p.Participants()) == 11 })
	}

	// Per-subscriber layer choice on b: one subscriber asks for a small
	// tile, another for a large one.
	vsid := pubs[0].TrackSID("video")
	small, large := subs[0], subs[1]
	if err := small.SetVideoSize(ctx, vsid, 320, 180, -1); err != nil {
		t.Fatalf("small tile: %v", err)
	}
	if err := large.SetVideoSize(ctx, vsid, 1280, 720, -1); err != nil {
		t.Fatalf("large tile: %v", err)
	}
	if st, err := waitSize(ctx, small, vsid, 320, 180); err != nil {
		t.Fatalf("small tile never got 320x180 (last %dx%d): %v", st.Width, st.Height, err)
	}
	if st, err := waitSize(ctx, large, vsid, 1280, 720); err != nil {
		t.Fatalf("large tile never got 1280x720 (last %dx%d): %v", st.Width, st.Height, err)
	}
	if n := a.app.SFU().Counters().RelaysOut.Load(); n != 4 {
		t.Errorf("a relays %d streams after the resizes, want still 4", n)
	}

	// Everyone keeps receiving for another second, healthily.
	for _, s := range subs {
		before := s.Stats().VideoFrames()
		st, err := s.WaitStats(ctx, func(x bot.Stats) bool { return x.VideoFrames() >= before+2*30 })
		if err != nil {
			t.Fatalf("%s stalled: %v", s.Self().Identity, err)
		}
		assertHealthy(t, s.Self().Identity, st)
	}
}
