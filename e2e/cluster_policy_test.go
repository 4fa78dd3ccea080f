package e2e

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster/redistest"
)

// A room's policy is room state: set on the node serving the room, it is
// kept in Redis, so the room is relay-only again when a node it is placed
// on after a crash creates it anew.
func TestClusterRoomPolicySurvivesNode(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startNode(t, rs.Addr(), "a"), startNode(t, rs.Addr(), "b")
	ctx := deadline(t, 30*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, b)) == 2 })

	clusterBot(ctx, t, a.url, "pol", "host", false, false)
	if code := adminCall(ctx, t, a, http.MethodPut, "/admin/rooms/pol/policy", adminKey, `{"relayOnly":true}`, nil); code != http.StatusOK {
		t.Fatalf("PUT policy on a = %d", code)
	}
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "a gone", func() bool { return slices.Equal(liveNodes(ctx, b), []string{"b"}) })
	late := clusterBot(ctx, t, b.url, "pol", "late", false, false)
	r := b.app.SFU().Room("pol")
	if late.SignalURL() != b.url || r == nil {
		t.Fatalf("the room was not placed on b")
	}
	if !r.RelayOnly() {
		t.Error("the room re-created on b lost its relay-only policy")
	}
	if code := adminCall(ctx, t, b, http.MethodPut, "/admin/rooms/pol/policy", adminKey, `{"relayOnly":false}`, nil); code != http.StatusOK {
		t.Fatalf("PUT default policy on b = %d", code)
	}
	if p, err := b.app.Cluster().Policy(ctx, "pol"); err != nil || p != nil {
		t.Errorf("the default policy is stored as %s, %v; want none", p, err)
	}
}

// In a room spanning nodes, a policy set on one node's part applies to the
// other parts at once.
func TestClusterSpanningPolicy(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startSpanNode(t, rs.Addr(), "a"), startSpanNode(t, rs.Addr(), "b")
	ctx := deadline(t, 30*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })

	clusterBot(ctx, t, a.url, "sp", "on-a", false, false)
	clusterBot(ctx, t, b.url, "sp", "on-b", false, false)
	start := time.Now()
	if code := adminCall(ctx, t, a, http.MethodPut, "/admin/rooms/sp/policy", adminKey, `{"relayOnly":true}`, nil); code != http.StatusOK {
		t.Fatalf("PUT policy on a = %d", code)
	}
	waitFor(ctx, t, "b's part relay-only", func() bool {
		r := b.app.SFU().Room("sp")
		return r != nil && r.RelayOnly()
	})
	t.Logf("policy set on a applied on b after %v", time.Since(start))
}
