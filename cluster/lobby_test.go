package cluster_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster"
	"github.com/hibiki-sfu/hibiki/cluster/redistest"
)

// recorder is a LobbyHandler that keeps the current entries of the other
// nodes and the messages received, and wakes waiters on every change.
type recorder struct {
	mu      sync.Mutex
	entries map[string]string // node/key -> value
	msgs    []string          // from: msg
	changed chan struct{}
}

func newRecorder() *recorder {
	return &recorder{entries: map[string]string{}, changed: make(chan struct{}, 1)}
}

func (r *recorder) Entry(node, key string, value []byte) {
	r.mu.Lock()
	if value == nil {
		delete(r.entries, node+"/"+key)
	} else {
		r.entries[node+"/"+key] = string(value)
	}
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) Message(from string, msg []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, from+": "+string(msg))
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// await blocks until cond holds over the recorder's state.
func (r *recorder) await(ctx context.Context, t *testing.T, what string, cond func(entries map[string]string, msgs []string) bool) {
	t.Helper()
	for {
		r.mu.Lock()
		ok := cond(r.entries, r.msgs)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-ctx.Done():
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("%s: %v (entries %v, messages %v)", what, ctx.Err(), r.entries, r.msgs)
		}
	}
}

func has(key, value string) func(map[string]string, []string) bool {
	return func(e map[string]string, _ []string) bool {
		v, ok := e[key]
		if value == "" {
			return !ok
		}
		return v == value
	}
}

func lobbyNode(t *testing.T, addr, id string) (*cluster.Cluster, *recorder) {
	t.Helper()
	c := startNode(t, addr, id, &fakeNode{})
	r := newRecorder()
	c.Lobby().Start(r)
	return c, r
}

func TestLobbyEntriesAndMessages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs := redistest.Start(t)
	a, ra := lobbyNode(t, rs.Addr(), "a")
	a.Lobby().Set("early", []byte(`{"v":0}`)) // before b exists: b loads it
	b, rb := lobbyNode(t, rs.Addr(), "b")
	rb.await(ctx, t, "b loads a's earlier entry", has("a/early", `{"v":0}`))

	start := time.Now()
	a.Lobby().Set("alice", []byte(`{"v":1}`))
	rb.await(ctx, t, "b sees alice", has("a/alice", `{"v":1}`))
	t.Logf("entry propagated in %v", time.Since(start))
	b.Lobby().Set("bob", []byte(`"x"`))
	ra.await(ctx, t, "a sees bob", has("b/bob", `"x"`))
	a.Lobby().Set("alice", nil)
	rb.await(ctx, t, "alice removed", has("a/alice", ""))

	start = time.Now()
	a.Lobby().Send("b", []byte(`{"hello":1}`))
	rb.await(ctx, t, "b gets a's message", func(_ map[string]string, m []string) bool {
		return len(m) == 1 && m[0] == `a: {"hello":1}`
	})
	t.Logf("message delivered in %v", time.Since(start))
	a.Lobby().Set("bad", []byte("not json")) // refused, not published
	a.Lobby().Send("nobody", []byte(`1`))    // no receiver: dropped
	a.Lobby().Set("last", []byte(`2`))
	rb.await(ctx, t, "later entry", has("a/last", `2`))
	rb.mu.Lock()
	_, bad := rb.entries["a/bad"]
	rb.mu.Unlock()
	if bad {
		t.Error("a non-JSON entry was published")
	}
}

// A node that dies (no goodbye) takes its entries along once its record
// expires; one that leaves after a drain takes them at once.
func TestLobbyNodeGone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs := redistest.Start(t)
	a, ra := lobbyNode(t, rs.Addr(), "a")
	b, _ := lobbyNode(t, rs.Addr(), "b")
	c, _ := lobbyNode(t, rs.Addr(), "c")
	b.Lobby().Set("bob", []byte(`1`))
	c.Lobby().Set("carol", []byte(`1`))
	ra.await(ctx, t, "a sees bob and carol", func(e map[string]string, _ []string) bool { return len(e) == 2 })

	_ = b.Close()
	start := time.Now()
	ra.await(ctx, t, "bob gone with b", has("b/bob", ""))
	if d := time.Since(start); d < testTTL/2 {
		t.Errorf("bob dropped after %v, before b's record could expire (ttl %v)", d, testTTL)
	}
	t.Logf("dead node's entry dropped after %v (ttl %v)", time.Since(start), testTTL)

	if err := c.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := c.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	ra.await(ctx, t, "carol gone with c's leave", has("c/carol", ""))
	if d := time.Since(start); d > testTTL/2 {
		t.Errorf("carol dropped after %v; a leave should not wait for the ttl", d)
	}
	_ = a
}

// Redis restarts empty: each node rewrites its hash, and a node starting
// afterwards loads what the others hold.
func TestLobbyRedisRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs := redistest.Start(t)
	a, _ := lobbyNode(t, rs.Addr(), "a")
	b, rb := lobbyNode(t, rs.Addr(), "b")
	a.Lobby().Set("alice", []byte(`1`))
	rb.await(ctx, t, "b sees alice", has("a/alice", `1`))

	rs.Restart()
	a.Lobby().Set("anna", []byte(`2`)) // while the reconnect is under way
	rb.await(ctx, t, "b sees anna after the restart", has("a/anna", `2`))
	_, rc := lobbyNode(t, rs.Addr(), "c")
	rc.await(ctx, t, "c loads a's rewritten hash", func(e map[string]string, _ []string) bool {
		return e["a/alice"] == `1` && e["a/anna"] == `2`
	})
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.entries["a/alice"] != `1` {
		t.Errorf("b lost alice over the restart: %v", rb.entries)
	}
	_ = b
}
