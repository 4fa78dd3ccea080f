package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster/redistest"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// callBot joins the room of an accepted invite through url with the token
// the server minted; the cluster may redirect it.
func callBot(ctx context.Context, t *testing.T, url string, accepted *signaling.Message, identity string) *bot.Bot {
	t.Helper()
	b, err := bot.New(bot.Config{
		URL: url, Token: accepted.Token, Identity: identity,
		Publish: true, Subscribe: true, Media: clips(t), ResumeWindow: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Connect(ctx); err != nil {
		t.Fatalf("%s joins the call: %v", identity, err)
	}
	return b
}

// The lobby spans the nodes: x on node a and y on node b see each other,
// invite each other (rejected, cancelled, accepted), meet in one call room
// wherever the cluster placed it, see each other in a call, and when b
// dies x's lobby drops y once b's record expired.
func TestClusterLobbyAcrossNodes(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startNode(t, rs.Addr(), "a"), startNode(t, rs.Addr(), "b")
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })

	x := enterLobby(ctx, t, a, "x")
	start := time.Now()
	y := enterLobby(ctx, t, b, "y")
	if err := x.WaitUser(ctx, "y", signaling.StateAvailable); err != nil {
		t.Fatalf("x never saw y (on the other node): %v", err)
	}
	t.Logf("presence a<-b after %v", time.Since(start))
	if err := y.WaitUser(ctx, "x", signaling.StateAvailable); err != nil {
		t.Fatalf("y never saw x (on the other node): %v", err)
	}

	// Rejected: x is told.
	start = time.Now()
	id, err := x.Invite(ctx, "y")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := y.WaitMessage(ctx, func(m *signaling.Message) bool { return m.Type == signaling.TypeInvited && m.InviteID == id })
	if err != nil || ring.From == nil || ring.From.Identity != "x" {
		t.Fatalf("y's ring: %+v, %v", ring, err)
	}
	t.Logf("invite a->b rang after %v", time.Since(start))
	start = time.Now()
	if err := y.Answer(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	ended, err := x.WaitMessage(ctx, func(m *signaling.Message) bool { return m.Type == signaling.TypeInviteEnded && m.InviteID == id })
	if err != nil || ended.Reason != signaling.ReasonRejected {
		t.Fatalf("x not told of the reject: %+v, %v", ended, err)
	}
	t.Logf("reject b->a arrived after %v", time.Since(start))

	// Cancelled: y is told.
	id, err = x.Invite(ctx, "y")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := y.WaitMessage(ctx, func(m *signaling.Message) bool { return m.Type == signaling.TypeInvited && m.InviteID == id }); err != nil {
		t.Fatal(err)
	}
	if err := x.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	ended, err = y.WaitMessage(ctx, func(m *signaling.Message) bool { return m.Type == signaling.TypeInviteEnded && m.InviteID == id })
	if err != nil || ended.Reason != signaling.ReasonCancelled {
		t.Fatalf("y not told of the cancel: %+v, %v", ended, err)
	}

	// Accepted: both get the same room and meet there.
	id, err = x.Invite(ctx, "y")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := y.WaitMessage(ctx, func(m *signaling.Message) bool { return m.Type == signaling.TypeInvited && m.InviteID == id }); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := y.Answer(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	isAccepted := func(m *signaling.Message) bool { return m.Type == signaling.TypeInviteAccepted && m.InviteID == id }
	ax, err := x.WaitMessage(ctx, isAccepted)
	if err != nil {
		t.Fatalf("x not told of the accept: %v", err)
	}
	ay, err := y.WaitMessage(ctx, isAccepted)
	if err != nil {
		t.Fatalf("y not told of the accept: %v", err)
	}
	t.Logf("accept round trip b->a->b after %v", time.Since(start))
	if ax.Room == "" || ax.Room != ay.Room || ax.Peer.Identity != "y" || ay.Peer.Identity != "x" {
		t.Fatalf("x told %+v, y told %+v", ax, ay)
	}
	cx, cy := callBot(ctx, t, a.url, ax, "x"), callBot(ctx, t, b.url, ay, "y")
	if cx.SignalURL() != cy.SignalURL() {
		t.Fatalf("x in the call on %s, y on %s", cx.SignalURL(), cy.SignalURL())
	}
	for _, c := range []*bot.Bot{cx, cy} {
		st, err := c.WaitStats(ctx, func(s bot.Stats) bool { return s.Totals.TracksReceiving >= 2 && s.VideoFrames() >= 30 })
		if err != nil {
			t.Fatalf("%s gets no media from its peer: %v (stats %+v)", c.Self().Identity, err, st.Totals)
		}
	}
	// Each lobby shows the other in a call, wherever the call runs.
	if err := x.WaitUser(ctx, "y", signaling.StateInCall); err != nil {
		t.Errorf("x never saw y in a call: %v", err)
	}
	if err := y.WaitUser(ctx, "x", signaling.StateInCall); err != nil {
		t.Errorf("y never saw x in a call: %v", err)
	}
	if err := cx.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := y.WaitUser(ctx, "x", signaling.StateAvailable); err != nil {
		t.Errorf("y never saw x available after the call: %v", err)
	}

	// b dies without a goodbye: y disappears from x's lobby with b's record.
	if err := b.stop(); err != nil {
		t.Fatalf("stop b: %v", err)
	}
	start = time.Now()
	if err := x.WaitUser(ctx, "y", signaling.StateOffline); err != nil {
		t.Fatalf("y still in x's lobby after b died: %v", err)
	}
	d := time.Since(start)
	t.Logf("dead node's member dropped after %v (ttl %v)", d, clusterTTL)
	if d < clusterTTL/2 {
		t.Errorf("y dropped after %v, before b's record could expire", d)
	}
	if _, err := x.Invite(ctx, "y"); err == nil {
		t.Error("invited a member of a dead node")
	}
}
