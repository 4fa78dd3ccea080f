package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
)

// nodeProcessEnv carries "redis-address node-id" to a re-executed test
// binary that is to serve as a cluster node.
const nodeProcessEnv = "HIBIKI_E2E_NODE"

// startNodeProcess runs node id of the cluster on redis in a process of its
// own (this test binary again), so that a test can kill it with SIGKILL:
// no deferred close, no socket shut down by the node itself. It returns the
// node's signaling URL and the kill. span makes its rooms span nodes.
func startNodeProcess(t *testing.T, redis, id string, span bool) (url string, kill func() error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("test binary: %v", err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	arg := redis + " " + id
	if span {
		arg += " span"
	}
	cmd.Env = append(os.Environ(), nodeProcessEnv+"="+arg)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // the node ends when it closes (we are gone)
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node process: %v", err)
	}
	announced := make(chan string, 1)
	waited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "NODE "); ok {
				announced <- u
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		waited <- cmd.Wait()
	}()
	kill = sync.OnceValue(func() error {
		if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("kill node process: %w", err)
		}
		<-waited
		return nil
	})
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = kill()
	})
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	select {
	case url = <-announced:
	case err := <-waited:
		t.Fatalf("node process ended before it served: %v", err)
	case <-timer.C:
		t.Fatal("node process did not announce its URL")
	}
	return url, kill
}

// runNodeProcess is the node side of startNodeProcess: it serves until
// killed or until its stdin closes.
func runNodeProcess() int {
	redis, rest, _ := strings.Cut(os.Getenv(nodeProcessEnv), " ")
	id, mode, _ := strings.Cut(rest, " ")
	cfg := testConfig()
	cfg.Redis.Address, cfg.Node.ID = redis, id
	cfg.Node.SpanRooms = mode == "span"
	cfg.Node.Heartbeat, cfg.Node.TTL = clusterBeat, clusterTTL
	cfg.NodeCPU = func() float64 { return 0 }
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "node process:", err)
		return 1
	}
	cfg.Node.URL = "ws://" + ln.Addr().String() + "/ws"
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(cfg, nil, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "node process:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	fmt.Println("NODE " + cfg.Node.URL)
	if err := a.Serve(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, "node process:", err)
		return 1
	}
	return 0
}
