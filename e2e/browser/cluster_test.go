package browser

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster/redistest"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
)

// startSpanNode runs node id of a cluster on redis whose rooms span nodes,
// serving the conference page like startServer.
func startSpanNode(t *testing.T, redis, id string) *server {
	t.Helper()
	return startServer(t, func(c *app.Config) {
		c.Redis.Address = redis
		c.Node.ID = id
		c.Node.URL = "ws://" + c.Listen + "/ws"
		c.Node.Heartbeat, c.Node.TTL = 100*time.Millisecond, 600*time.Millisecond
		c.Node.SpanRooms = true
		c.Room.P2P = false // the relay between the nodes is what this test checks
	})
}

// Two browsers in one room, each served by its own node: Alice's page comes
// from node a, Bob's from node b. Each decodes the other's camera and
// microphone, which cross from node to node over the relays.
func TestSpanningRoomAcrossNodes(t *testing.T) {
	requireBrowserEnv(t)
	ctx := deadline(t, 90*time.Second)
	rs := redistest.Start(t)
	a, b := startSpanNode(t, rs.Addr(), "a"), startSpanNode(t, rs.Addr(), "b")
	room := "e2e-" + strings.ToLower(t.Name())
	alice := newBrowser(t, ctx, "alice")
	bob := newBrowser(t, ctx, "bob")
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, n := range []struct {
			name string
			srv  *server
			page *browser
		}{{"a", a, alice}, {"b", b, bob}} {
			logRoomState(t, "node "+n.name, n.srv, room)
			var inbound any
			err := n.page.eval(context.Background(), `(async () => (await window.hibikiRoom.statsSummary()).subscribe.inbound)()`, &inbound)
			t.Logf("%s's page receives: %+v (%v)", n.page.name, inbound, err)
			var view any
			err = n.page.eval(context.Background(), `[...window.hibikiRoom.participants.values()].map((p) => ({sid: p.sid, name: p.name, identity: p.identity,
				tracks: [...p.tracks.values()].map((t) => ({sid: t.sid, source: t.source, kind: t.kind, subscribed: t.subscribed, mid: t.mid}))}))`, &view)
			t.Logf("%s's page sees: %+v (%v)", n.page.name, view, err)
		}
	})
	joinRoom(ctx, t, a, alice, room, "Alice")
	joinRoom(ctx, t, b, bob, room, "Bob")

	bobVideo := waitMedia(ctx, t, alice, "Bob", "camera")
	aliceVideo := waitMedia(ctx, t, bob, "Alice", "camera")
	bobAudio := waitMedia(ctx, t, alice, "Bob", "microphone")
	aliceAudio := waitMedia(ctx, t, bob, "Alice", "microphone")
	done := make(chan struct{})
	go func() {
		defer close(done)
		mediaFlows(ctx, t, bob, aliceVideo, aliceAudio, 6*time.Second)
	}()
	mediaFlows(ctx, t, alice, bobVideo, bobAudio, 6*time.Second)
	<-done

	for _, c := range []struct {
		srv  *server
		name string
	}{{a, "a"}, {b, "b"}} {
		r := c.srv.app.SFU().Room(room)
		if r == nil || len(r.Local()) != 1 || len(r.Participants()) != 2 {
			t.Errorf("node %s: room %v, want one local and one remote participant", c.name, r)
		}
		if n := c.srv.app.SFU().Counters().RelaysOut.Load(); n != 2 {
			t.Errorf("node %s relays %d tracks, want 2 (camera and microphone)", c.name, n)
		}
	}
}

// logRoomState logs, for a failing test, what the server forwards: every
// participant's subscriptions and what arrives of every track's layers.
func logRoomState(t *testing.T, label string, srv *server, room string) {
	t.Helper()
	r := srv.app.SFU().Room(room)
	if r == nil {
		t.Logf("%s: room %s is gone", label, room)
		return
	}
	for _, p := range r.Participants() {
		for _, st := range p.SubscriptionStates() {
			t.Logf("%s: %s receives %+v", label, p.Identity(), st)
		}
		for _, tr := range p.Tracks() {
			t.Logf("%s: %s's %s arrives as %+v", label, p.Identity(), tr.SID(), tr.Layers())
		}
	}
}
