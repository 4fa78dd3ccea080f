package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster"
	"github.com/hibiki-sfu/hibiki/cluster/redistest"
)

// A draining node is never chosen for a new room, gives up its leases,
// relocates its rooms to a live node, and is gone at once when it leaves.
func TestDrainRelocateLeave(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs := redistest.Start(t)
	// b is the busier node: without the drain, a would win every placement.
	fa := &fakeNode{load: cluster.Load{Rooms: []string{"r"}, Participants: 2}}
	fb := &fakeNode{load: cluster.Load{Rooms: []string{"busy"}, Participants: 9}}
	a := startNode(t, rs.Addr(), "a", fa)
	b := startNode(t, rs.Addr(), "b", fb)
	eventually(ctx, t, "both nodes live", func() bool { n, _ := a.Nodes(ctx); return len(n) == 2 })
	if h, err := b.Holder(ctx, "r"); err != nil || h != "a" {
		t.Fatalf("holder of r = %q, %v; want a", h, err)
	}
	if _, err := a.Relocate(ctx, "r"); !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("Relocate before Drain: %v, want ErrUnavailable", err)
	}

	if err := a.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if !a.Draining() {
		t.Fatal("Draining() = false after Drain")
	}
	nodes, err := b.Nodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].ID != "a" || !nodes[0].Draining {
		t.Fatalf("nodes after Drain = %+v, %v; want a marked draining", nodes, err)
	}
	// The drain's beat dropped a's lease although r is still open there.
	if h, err := b.Holder(ctx, "r"); err != nil || h != "" {
		t.Fatalf("holder of r after Drain = %q, %v; want none", h, err)
	}
	for i, c := range []*cluster.Cluster{a, b} {
		room := []string{"new-a", "new-b"}[i]
		if url, err := c.Locate(ctx, room); err != nil || (c == a && url != "ws://b/ws") || (c == b && url != "") {
			t.Fatalf("%s.Locate(%s) = %q, %v; want b", c.NodeID(), room, url, err)
		}
	}
	url, err := a.Relocate(ctx, "r")
	if err != nil || url != "ws://b/ws" {
		t.Fatalf("Relocate(r) = %q, %v; want b's url", url, err)
	}
	if h, err := b.Holder(ctx, "r"); err != nil || h != "b" {
		t.Fatalf("holder of r after Relocate = %q, %v; want b", h, err)
	}
	// Later beats of a must not take r back although a still serves it.
	time.Sleep(3 * testBeat)
	if h, err := b.Holder(ctx, "r"); err != nil || h != "b" {
		t.Fatalf("holder of r three beats later = %q, %v; want b", h, err)
	}

	if err := a.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if nodes, err := b.Nodes(ctx); err != nil || len(nodes) != 1 || nodes[0].ID != "b" {
		t.Fatalf("nodes after Leave = %+v, %v; want only b", nodes, err)
	}
	// With only a draining node left, nothing can be placed.
	if err := b.Drain(ctx); err != nil {
		t.Fatalf("b.Drain: %v", err)
	}
	if _, err := b.Locate(ctx, "nowhere"); !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("Locate with every node draining: %v, want ErrUnavailable", err)
	}
}
