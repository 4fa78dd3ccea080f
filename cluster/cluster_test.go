package cluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster"
	"github.com/hibiki-sfu/hibiki/cluster/redistest"
	"go.uber.org/goleak"
)

// fakeNode is a node's load as a test sets it.
type fakeNode struct {
	mu   sync.Mutex
	load cluster.Load
}

func (f *fakeNode) get() cluster.Load {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.load
}

func (f *fakeNode) set(l cluster.Load) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.load = l
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testBeat = 50 * time.Millisecond
	testTTL  = 300 * time.Millisecond
)

func startNode(t *testing.T, addr, id string, f *fakeNode) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(cluster.Config{
		Address: addr, NodeID: id, NodeURL: "ws://" + id + "/ws",
		Heartbeat: testBeat, NodeTTL: testTTL, Load: f.get,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// eventually polls cond every 20 ms until it holds or ctx ends.
func eventually(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestPlacementLeaseAndFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs := redistest.Start(t)
	fa, fb := &fakeNode{}, &fakeNode{load: cluster.Load{Rooms: []string{"busy"}, Participants: 5}}
	a := startNode(t, rs.Addr(), "a", fa)
	b := startNode(t, rs.Addr(), "b", fb)
	eventually(ctx, t, "both nodes live", func() bool { n, _ := a.Nodes(ctx); return len(n) == 2 })

	// b serves a room: a new room goes to a, from either node.
	if url, err := b.Locate(ctx, "r1"); err != nil || url != "ws://a/ws" {
		t.Fatalf("b.Locate(r1) = %q, %v; want a's url", url, err)
	}
	if url, err := a.Locate(ctx, "r1"); err != nil || url != "" {
		t.Fatalf("a.Locate(r1) = %q, %v; want here", url, err)
	}
	// b's own room is leased to b by its heartbeat.
	if url, err := a.Locate(ctx, "busy"); err != nil || url != "ws://b/ws" {
		t.Fatalf("a.Locate(busy) = %q, %v; want b's url", url, err)
	}
	// a opens r1 and keeps its lease past the TTL.
	fa.set(cluster.Load{Rooms: []string{"r1"}, Participants: 1})
	time.Sleep(2 * testTTL)
	if h, err := b.Holder(ctx, "r1"); err != nil || h != "a" {
		t.Fatalf("holder of r1 = %q, %v; want a", h, err)
	}
	// r1 closes on a: its lease is released on the next beat.
	fa.set(cluster.Load{})
	eventually(ctx, t, "lease of a closed room released", func() bool { h, _ := b.Holder(ctx, "r1"); return h == "" })

	// b crashes: once its heartbeat expires, its room is placed on a.
	_ = b.Close()
	eventually(ctx, t, "b gone", func() bool { n, _ := a.Nodes(ctx); return len(n) == 1 })
	if url, err := a.Locate(ctx, "busy"); err != nil || url != "" {
		t.Fatalf("a.Locate(busy) after b died = %q, %v; want here", url, err)
	}
}

func TestRedisDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs := redistest.Start(t)
	f := &fakeNode{load: cluster.Load{Rooms: []string{"kept"}}}
	a := startNode(t, rs.Addr(), "a", f)
	eventually(ctx, t, "registered", a.Up)
	rs.Stop()
	_, err := a.Locate(ctx, "new")
	if !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("Locate with Redis down: %v, want ErrUnavailable", err)
	}
	eventually(ctx, t, "noticed Redis down", func() bool { return !a.Up() })
	rs.Restart()
	eventually(ctx, t, "registered again", a.Up)
	// The restarted Redis is empty: the heartbeat put the lease back.
	if h, err := a.Holder(ctx, "kept"); err != nil || h != "a" {
		t.Fatalf("holder of kept after restart = %q, %v; want a", h, err)
	}
	if url, err := a.Locate(ctx, "new"); err != nil || url != "" {
		t.Fatalf("Locate after restart = %q, %v", url, err)
	}
}
