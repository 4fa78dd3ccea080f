package e2e

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster/redistest"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// Short cluster timings, so that a dead node is gone within a second.
const (
	clusterBeat = 100 * time.Millisecond
	clusterTTL  = 600 * time.Millisecond
)

// startNode runs a server that is node id of the cluster on redis; tweak,
// when given, changes its config first.
func startNode(t *testing.T, redis, id string, tweak ...func(*app.Config)) *server {
	t.Helper()
	cfg := testConfig()
	for _, f := range tweak {
		f(&cfg)
	}
	ln := listen(t, cfg.Listen)
	cfg.Redis.Address = redis
	cfg.Node.ID = id
	cfg.Node.URL = "ws://" + ln.Addr().String() + "/ws"
	cfg.Node.Heartbeat, cfg.Node.TTL = clusterBeat, clusterTTL
	cfg.Admin.Key = adminKey
	// The nodes share this process's CPU time: leave it out of the ranking.
	cfg.NodeCPU = func() float64 { return 0 }
	return serve(t, cfg, ln)
}

// tryBot connects a bot through url; it does not fail the test.
func tryBot(ctx context.Context, t *testing.T, url, room, identity string, publish, subscribe bool) (*bot.Bot, error) {
	t.Helper()
	b, err := bot.New(bot.Config{
		URL: url, Room: room, Identity: identity,
		Publish: publish, Subscribe: subscribe, Media: clips(t),
		ResumeWindow: -1, // a node that dies in a test takes its bots along
	})
	if err != nil {
		t.Fatalf("bot %s: %v", identity, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Connect(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

func clusterBot(ctx context.Context, t *testing.T, url, room, identity string, publish, subscribe bool) *bot.Bot {
	t.Helper()
	b, err := tryBot(ctx, t, url, room, identity, publish, subscribe)
	if err != nil {
		t.Fatalf("bot %s connect: %v", identity, err)
	}
	return b
}

// waitFor polls cond every 20 ms until it holds.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// liveNodes lists the ids of the live nodes as srv sees them.
func liveNodes(ctx context.Context, srv *server) []string {
	nodes, err := srv.app.Cluster().Nodes(ctx)
	if err != nil {
		return nil
	}
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	return ids
}

// Bots whose signaling reaches different nodes meet in one room: the one
// on the node that does not serve it follows a redirect.
func TestClusterRedirectJoinsOneRoom(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startNode(t, rs.Addr(), "a"), startNode(t, rs.Addr(), "b")
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })

	alice := clusterBot(ctx, t, a.url, "meet", "alice", true, true)
	bob := clusterBot(ctx, t, b.url, "meet", "bob", true, true)
	if alice.SignalURL() != a.url {
		t.Errorf("alice landed on %s, want a (the tie goes to the node asked)", alice.SignalURL())
	}
	if bob.SignalURL() != a.url {
		t.Errorf("bob landed on %s, want a redirect to a %s", bob.SignalURL(), a.url)
	}
	if b.app.SFU().Room("meet") != nil {
		t.Error("the room exists on b too")
	}
	for _, x := range []*bot.Bot{alice, bob} {
		st, err := x.WaitStats(ctx, func(s bot.Stats) bool { return s.Totals.TracksReceiving >= 2 && s.VideoFrames() >= 60 })
		if err != nil {
			t.Fatalf("%s: %v (stats %+v)", x.Self().Identity, err, st.Totals)
		}
		assertHealthy(t, x.Self().Identity, st)
	}
}

// A new room goes to the least-loaded node, not to one serving a room.
func TestClusterLeastLoadedPlacement(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startNode(t, rs.Addr(), "a"), startNode(t, rs.Addr(), "b")
	ctx := deadline(t, 30*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })

	clusterBot(ctx, t, a.url, "first", "p1", false, true)
	waitFor(ctx, t, "a reports its room", func() bool {
		nodes, _ := a.app.Cluster().Nodes(ctx)
		return len(nodes) == 2 && nodes[0].ID == "a" && nodes[0].Rooms == 1
	})
	p2 := clusterBot(ctx, t, a.url, "second", "p2", false, true)
	if p2.SignalURL() != b.url {
		t.Fatalf("second room landed on %s, want the idle node b %s", p2.SignalURL(), b.url)
	}
	if b.app.SFU().Room("second") == nil || a.app.SFU().Room("second") != nil {
		t.Fatal("second room is not (only) on b")
	}
}

// When the node serving a room dies, its heartbeat and lease expire and
// the next join places the room on a survivor. (A bot of the dead node
// cannot resume there: the session is gone; it would join afresh.)
func TestClusterOwnerFailureReplaces(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startNode(t, rs.Addr(), "a"), startNode(t, rs.Addr(), "b")
	ctx := deadline(t, 30*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, b)) == 2 })

	clusterBot(ctx, t, a.url, "doomed", "early", true, false)
	if h, err := b.app.Cluster().Holder(ctx, "doomed"); err != nil || h != "a" {
		t.Fatalf("holder = %q, %v; want a", h, err)
	}
	if err := a.stop(); err != nil {
		t.Fatalf("stop a: %v", err)
	}
	start := time.Now()
	waitFor(ctx, t, "a's heartbeat expired", func() bool { return slices.Equal(liveNodes(ctx, b), []string{"b"}) })
	t.Logf("dead node gone after %v (ttl %v)", time.Since(start), clusterTTL)

	late := clusterBot(ctx, t, b.url, "doomed", "late", false, true)
	if late.SignalURL() != b.url || b.app.SFU().Room("doomed") == nil {
		t.Fatalf("re-placed join landed on %s, want b %s", late.SignalURL(), b.url)
	}
	if h, err := b.app.Cluster().Holder(ctx, "doomed"); err != nil || h != "b" {
		t.Fatalf("holder after failover = %q, %v; want b", h, err)
	}
}

// With Redis gone, a running call goes on and joins to a room its node
// serves still work; new placements are refused as unavailable until Redis
// is back.
func TestClusterRedisRestartMidCall(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startNode(t, rs.Addr(), "a"), startNode(t, rs.Addr(), "b")
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })

	clusterBot(ctx, t, a.url, "call", "pub", true, false)
	sub := clusterBot(ctx, t, b.url, "call", "sub", false, true)
	if _, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return s.VideoFrames() >= 30 }); err != nil {
		t.Fatalf("sub before: %v", err)
	}

	rs.Stop()
	before := sub.Stats().VideoFrames()
	if _, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return s.VideoFrames() >= before+60 }); err != nil {
		t.Fatalf("call stalled without Redis: %v", err)
	}
	clusterBot(ctx, t, a.url, "call", "owned-join", false, true) // a serves "call"
	_, err := tryBot(ctx, t, a.url, "fresh", "refused", false, true)
	var se *signaling.Error
	if !errors.As(err, &se) || se.Code != signaling.CodeUnavailable {
		t.Fatalf("new placement without Redis: %v, want code %s", err, signaling.CodeUnavailable)
	}

	rs.Restart()
	// The client retries, as docs/cluster.md tells it to.
	var fresh *bot.Bot
	waitFor(ctx, t, "new placement after Redis is back", func() bool {
		fresh, err = tryBot(ctx, t, b.url, "fresh", "retried", false, true)
		return err == nil
	})
	if fresh.SignalURL() == "" {
		t.Fatal("no landing url")
	}
	st := sub.Stats()
	assertHealthy(t, "sub", st)
	if sub.Stats().State != bot.StateJoined {
		t.Fatalf("sub state %s after the restart", st.State)
	}
}

// Join time through the node that serves the room against through another
// one (redirect: a second dial and join). Logs p50/p95 over 20 joins each.
func TestClusterJoinLatency(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startNode(t, rs.Addr(), "a"), startNode(t, rs.Addr(), "b")
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })
	clusterBot(ctx, t, a.url, "lat", "anchor", false, true) // keeps the room on a

	// Interleaved, so that warm-up and the neighbours' load hit both alike.
	const joins = 20
	var direct, redirected []time.Duration
	for i := range 2 * joins {
		url, into := a.url, &direct
		if i%2 == 1 {
			url, into = b.url, &redirected
		}
		start := time.Now()
		x := clusterBot(ctx, t, url, "lat", "j"+strconv.Itoa(i), false, true)
		*into = append(*into, time.Since(start))
		if x.SignalURL() != a.url {
			t.Fatalf("join landed on %s, want a", x.SignalURL())
		}
		_ = x.Close()
	}
	slices.Sort(direct)
	slices.Sort(redirected)
	pct := func(d []time.Duration, p int) time.Duration { return d[(len(d)-1)*p/100] }
	t.Logf("join direct:     p50 %v p95 %v", pct(direct, 50), pct(direct, 95))
	t.Logf("join redirected: p50 %v p95 %v", pct(redirected, 50), pct(redirected, 95))
}
