package cluster_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster"
	"github.com/hibiki-sfu/hibiki/cluster/redistest"
)

// watcher records what Watch reports.
type watcher struct {
	mu      sync.Mutex
	changes []cluster.PartChange
	data    []string
}

func (w *watcher) part(pc cluster.PartChange) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.changes = append(w.changes, pc)
}

func (w *watcher) gotData(b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.data = append(w.data, string(b))
}

func (w *watcher) has(pc cluster.PartChange) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.changes {
		if c == pc {
			return true
		}
	}
	return false
}

// Parts of a spanning room: a node sees the others' parts (never its own)
// with their size, state and HTTP base, hears of each change, loses a
// part when its node removes it or stops rewriting it, and gets the data
// messages sent to it.
func TestParts(t *testing.T) {
	rs := redistest.Start(t)
	a := startNode(t, rs.Addr(), "a", &fakeNode{})
	b := startNode(t, rs.Addr(), "b", &fakeNode{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w := &watcher{}
	a.Watch(w.part, w.gotData)
	eventually(ctx, t, "subscribed", func() bool { return w.has(cluster.PartChange{}) })

	state := json.RawMessage(`[{"SID":"PA_1"}]`)
	if err := b.PublishPart(ctx, "r", 1, state); err != nil {
		t.Fatal(err)
	}
	if err := a.PublishPart(ctx, "r", 4, json.RawMessage(`[]`)); err != nil {
		t.Fatal(err)
	}
	eventually(ctx, t, "b's change heard", func() bool { return w.has(cluster.PartChange{Node: "b", Room: "r"}) })
	if w.has(cluster.PartChange{Node: "a", Room: "r"}) {
		t.Error("a heard its own change")
	}
	parts, err := a.Parts(ctx, "r")
	if err != nil || len(parts) != 1 {
		t.Fatalf("a reads %v, %v; want b's part only", parts, err)
	}
	if p := parts[0]; p.Node != "b" || p.Size != 1 || p.Base != "http://b" || string(p.State) != string(state) {
		t.Errorf("b's part: %+v", p)
	}

	if err := b.SendData(ctx, "a", []byte("hello a")); err != nil {
		t.Fatal(err)
	}
	eventually(ctx, t, "data for a", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.data) == 1 && w.data[0] == "hello a"
	})

	if err := b.RemovePart(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	eventually(ctx, t, "b's leave heard", func() bool { return w.has(cluster.PartChange{Node: "b", Room: "r", Gone: true}) })
	if parts, err := a.Parts(ctx, "r"); err != nil || len(parts) != 0 {
		t.Fatalf("after the removal a reads %v, %v", parts, err)
	}

	// A part nobody rewrites is stale after the node TTL.
	if err := b.PublishPart(ctx, "r", 1, state); err != nil {
		t.Fatal(err)
	}
	eventually(ctx, t, "b's part stale", func() bool {
		parts, err := a.Parts(ctx, "r")
		return err == nil && len(parts) == 0
	})
}
