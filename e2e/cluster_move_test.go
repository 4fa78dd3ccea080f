package e2e

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster/redistest"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
)

// recoveryLimit is how soon after a drain or a node's death the subscriber
// must receive the publisher's video again (through the other node).
const recoveryLimit = 10 * time.Second

// movingBot is a cluster bot that may re-join through the given fallback
// nodes, and resumes (the default window) before it does.
func movingBot(ctx context.Context, t *testing.T, url, room, identity string, publish bool, fallback ...string) *bot.Bot {
	t.Helper()
	b, err := bot.New(bot.Config{
		URL: url, FallbackURLs: fallback, Room: room, Identity: identity,
		Publish: publish, Subscribe: !publish, Media: clips(t),
	})
	if err != nil {
		t.Fatalf("bot %s: %v", identity, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Connect(ctx); err != nil {
		t.Fatalf("bot %s connect: %v", identity, err)
	}
	return b
}

// videoFrom sums the complete video frames received from participant sid.
func videoFrom(s bot.Stats, sid string) uint64 {
	var n uint64
	for _, tr := range s.Tracks {
		if tr.Kind == "video" && tr.ParticipantSID == sid {
			n += tr.Frames
		}
	}
	return n
}

// awaitMovedVideo waits until pub has moved (joined afresh) and sub
// receives video of pub's new participant. It returns when the first
// complete frame arrived, and fails unless 30 follow.
func awaitMovedVideo(ctx context.Context, t *testing.T, pub, sub *bot.Bot) time.Time {
	t.Helper()
	frames := func(n uint64) func(bot.Stats) bool {
		return func(s bot.Stats) bool {
			return s.Moves >= 1 && pub.Stats().Moves >= 1 && videoFrom(s, pub.Self().SID) >= n
		}
	}
	if _, err := sub.WaitStats(ctx, frames(1)); err != nil {
		t.Fatalf("video after the move: %v (pub %+v, sub %+v)", err, pub.Stats().Totals, sub.Stats().Totals)
	}
	first := time.Now()
	if _, err := sub.WaitStats(ctx, frames(30)); err != nil {
		t.Fatalf("video after the move stopped: %v (sub %+v)", err, sub.Stats().Totals)
	}
	return first
}

// A drained node hands its room over: both bots are told to move, join the
// room on the other node, republish and resubscribe; the drained node
// deregisters, and new rooms are placed elsewhere.
func TestClusterDrainMovesRoom(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startNode(t, rs.Addr(), "a"), startNode(t, rs.Addr(), "b")
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, b)) == 2 })

	pub := movingBot(ctx, t, a.url, "move", "pub", true)
	sub := movingBot(ctx, t, a.url, "move", "sub", false)
	if pub.SignalURL() != a.url || sub.SignalURL() != a.url {
		t.Fatalf("bots landed on %s and %s, want a", pub.SignalURL(), sub.SignalURL())
	}
	if _, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return videoFrom(s, pub.Self().SID) >= 30 }); err != nil {
		t.Fatalf("video before the drain: %v", err)
	}

	start := time.Now()
	if code := adminCall(ctx, t, a, http.MethodPost, "/admin/drain", adminKey, "", nil); code != http.StatusAccepted {
		t.Fatalf("POST /admin/drain = %d, want 202", code)
	}
	drained := make(chan error, 1)
	var drainTook time.Duration
	go func() {
		err := a.app.Drain(ctx) // waits for the drain the call started
		drainTook = time.Since(start)
		drained <- err
	}()
	recovery := awaitMovedVideo(ctx, t, pub, sub).Sub(start)
	if err := <-drained; err != nil {
		t.Fatalf("drain: %v", err)
	}
	t.Logf("drain: first video frame on b after %v; node drained and deregistered after %v", recovery, drainTook)
	if recovery > recoveryLimit {
		t.Errorf("video came back after %v, want within %v", recovery, recoveryLimit)
	}

	if pub.SignalURL() != b.url || sub.SignalURL() != b.url {
		t.Errorf("bots moved to %s and %s, want b %s", pub.SignalURL(), sub.SignalURL(), b.url)
	}
	if r := b.app.SFU().Room("move"); r == nil || len(r.Participants()) != 2 {
		t.Errorf("room on b: %v", r)
	}
	if h, err := b.app.Cluster().Holder(ctx, "move"); err != nil || h != "b" {
		t.Errorf("holder after the drain = %q, %v; want b", h, err)
	}
	if got := liveNodes(ctx, b); !slices.Equal(got, []string{"b"}) {
		t.Errorf("live nodes after the drain = %v, want [b] (a's record deleted)", got)
	}
	if a.app.SFU().Room("move") != nil && len(a.app.SFU().Room("move").Participants()) > 0 {
		t.Error("participants left behind on a")
	}
	// A new room asked of the drained node goes to b.
	late := clusterBot(ctx, t, a.url, "after-drain", "late", false, true)
	if late.SignalURL() != b.url || a.app.SFU().Room("after-drain") != nil {
		t.Errorf("new room after the drain landed on %s, want b", late.SignalURL())
	}
	if code := adminCall(ctx, t, a, http.MethodPost, "/admin/drain", adminKey, "", nil); code != http.StatusAccepted {
		t.Errorf("second POST /admin/drain = %d, want 202", code)
	}
}

// A node that dies mid-call loses its bots to the other node: resume cannot
// reach it, so they join afresh through their fallback URL once the dead
// node's lease has expired. "stopped" is an in-process hard stop (sockets
// and peer connections cut, its records left to expire); "kill-9" is a node
// in a process of its own, killed with SIGKILL.
func TestClusterNodeKilledBotsRejoin(t *testing.T) {
	for _, how := range []string{"stopped", "kill-9"} {
		t.Run(how, func(t *testing.T) {
			rs := redistest.Start(t)
			var aURL string
			var kill func() error
			if how == "stopped" {
				a := startNode(t, rs.Addr(), "a")
				aURL, kill = a.url, a.stop
			} else {
				aURL, kill = startNodeProcess(t, rs.Addr(), "a", false)
			}
			b := startNode(t, rs.Addr(), "b")
			ctx := deadline(t, 60*time.Second)
			waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, b)) == 2 })
			killedRejoin(ctx, t, aURL, kill, b)
		})
	}
}

func killedRejoin(ctx context.Context, t *testing.T, aURL string, kill func() error, b *server) {
	t.Helper()
	pub := movingBot(ctx, t, aURL, "crash", "pub", true, b.url)
	sub := movingBot(ctx, t, aURL, "crash", "sub", false, b.url)
	if pub.SignalURL() != aURL || sub.SignalURL() != aURL {
		t.Fatalf("bots landed on %s and %s, want a %s", pub.SignalURL(), sub.SignalURL(), aURL)
	}
	if _, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return videoFrom(s, pub.Self().SID) >= 30 }); err != nil {
		t.Fatalf("video before the kill: %v", err)
	}

	if err := kill(); err != nil {
		t.Fatalf("kill a: %v", err)
	}
	start := time.Now()
	recovery := awaitMovedVideo(ctx, t, pub, sub).Sub(start)
	t.Logf("node killed: first video frame on b after %v (node ttl %v)", recovery, clusterTTL)
	if recovery > recoveryLimit {
		t.Errorf("video came back after %v, want within %v", recovery, recoveryLimit)
	}
	if pub.SignalURL() != b.url || sub.SignalURL() != b.url {
		t.Errorf("bots moved to %s and %s, want b %s", pub.SignalURL(), sub.SignalURL(), b.url)
	}
	if r := b.app.SFU().Room("crash"); r == nil || len(r.Participants()) != 2 {
		t.Errorf("room on b: %v", r)
	}
}
