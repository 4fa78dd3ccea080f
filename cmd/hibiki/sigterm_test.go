package main

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster"
	"github.com/hibiki-sfu/hibiki/cluster/redistest"
)

// SIGTERM to a clustered server drains it: run returns nil (exit status 0)
// and the node's record is deleted at once, not left to expire.
func TestSIGTERMDrainsAndDeregisters(t *testing.T) {
	clearEnv(t)
	for _, k := range []string{"HIBIKI_REDIS_ADDRESS", "HIBIKI_NODE_ID", "HIBIKI_NODE_URL", "HIBIKI_DRAIN_TIMEOUT", "HIBIKI_TCP_PORT"} {
		t.Setenv(k, "")
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs := redistest.Start(t)
	// The observer is a node of its own that never serves a room; its
	// record's TTL is long, the server's short, so an expiry cannot pass
	// for a deregistration.
	obs, err := cluster.New(cluster.Config{Address: rs.Addr(), NodeID: "observer", NodeURL: "ws://127.0.0.1:9/ws",
		Heartbeat: time.Second, NodeTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	obs.Start()
	defer func() { _ = obs.Close() }()
	live := func() []cluster.NodeInfo { n, _ := obs.Nodes(ctx); return n }

	done := make(chan error, 1)
	go func() {
		done <- run([]string{"--listen", "127.0.0.1:0", "--udp-port", "0", "--tcp-port", "0",
			"--redis-address", rs.Addr(), "--node-id", "term", "--node-url", "ws://127.0.0.1:9/ws",
			"--drain-timeout", "5s", "--log-level", "warn"}, io.Discard, io.Discard)
	}()
	for len(live()) < 2 {
		select {
		case err := <-done:
			t.Fatalf("server ended before registering: %v", err)
		case <-ctx.Done():
			t.Fatalf("server did not register: %v", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	// run has installed its handler before it registered, so this signal
	// goes to it, not to the test binary's default action.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after SIGTERM: %v, want nil (exit 0)", err)
		}
	case <-ctx.Done():
		t.Fatal("server still running after SIGTERM")
	}
	if n := live(); len(n) != 1 || n[0].ID != "observer" {
		t.Fatalf("live nodes after SIGTERM = %+v, want only the observer", n)
	}
}
