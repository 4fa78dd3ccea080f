package e2e

import (
	"context"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
)

// server is a hibiki server running in-process on loopback.
type server struct {
	app *app.App
	url string // ws://127.0.0.1:PORT/ws
}

// startServer runs a server with the built-in config, media on loopback
// with an ephemeral port per connection (tests run in parallel packages).
func startServer(t *testing.T, tweak func(*app.Config)) *server {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.RTC.UDPPort = 0
	cfg.Room.EmptyGrace = 200 * time.Millisecond
	if tweak != nil {
		tweak(&cfg)
	}
	level := slog.LevelWarn
	if os.Getenv("HIBIKI_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	a, err := app.New(cfg, nil, logger)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &server{app: a, url: "ws://" + ln.Addr().String() + "/ws"}
}

// loadClips parses the bots' media once for the whole package.
var loadClips = sync.OnceValues(media.Load)

func clips(t *testing.T) *media.Clips {
	t.Helper()
	c, err := loadClips()
	if err != nil {
		t.Fatalf("load media: %v", err)
	}
	return c
}

// deadline bounds a test; every wait in it uses the returned context.
func deadline(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
