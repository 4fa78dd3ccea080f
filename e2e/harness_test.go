package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
)

// server is a hibiki server running in-process on loopback.
type server struct {
	app *app.App
	url string // ws://127.0.0.1:PORT/ws (wss:// with TLS)
	// tls trusts the server's certificate (TLS servers only).
	tls *tls.Config
	// stop closes the server (once; the test's cleanup calls it too).
	stop func() error
}

// startServer runs a server with the built-in config, all media on one
// loopback UDP port as in the default configuration.
func startServer(t *testing.T, tweak func(*app.Config)) *server {
	t.Helper()
	cfg := testConfig()
	if tweak != nil {
		tweak(&cfg)
	}
	return serve(t, cfg, listen(t, cfg.Listen))
}

// testConfig is the built-in config on loopback, on ports free a moment
// ago (tests run in parallel packages).
func testConfig() app.Config {
	cfg := app.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.RTC.UDPPort = mediaPort()
	cfg.RTC.TCPPort = 0
	cfg.Room.EmptyGrace = 200 * time.Millisecond
	cfg.BWE.Enabled = bweEnabled()
	return cfg
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

// serve builds a server from cfg and serves it on ln until the test ends.
func serve(t *testing.T, cfg app.Config, ln net.Listener) *server {
	t.Helper()
	level := slog.LevelWarn
	if os.Getenv("HIBIKI_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	a, err := app.New(cfg, nil, logger)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("new server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(context.Background(), ln) }()
	stop := sync.OnceValue(a.Close)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("close server: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	srv := &server{app: a, url: "ws://" + ln.Addr().String() + "/ws", stop: stop}
	if c := a.TLS(); c != nil {
		roots := x509.NewCertPool()
		roots.AddCert(c.Certificates[0].Leaf)
		srv.tls = &tls.Config{RootCAs: roots}
		srv.url = "wss://" + ln.Addr().String() + "/ws"
	}
	return srv
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

// newBot connects a bot to srv in room and closes it when the test ends.
func newBot(ctx context.Context, t *testing.T, srv *server, room, identity string, publish, subscribe bool) *bot.Bot {
	t.Helper()
	b, err := bot.New(bot.Config{
		URL: srv.url, Room: room, Identity: identity,
		Publish: publish, Subscribe: subscribe, Media: clips(t),
	})
	if err != nil {
		t.Fatalf("bot %s: %v", identity, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Connect(ctx); err != nil {
		t.Fatalf("bot %s connect: %v", identity, err)
	}
	return b
}

// trackStats returns the stats of the bot's received track with sid.
func trackStats(b *bot.Bot, sid string) (bot.TrackStats, bool) {
	for _, tr := range b.Stats().Tracks {
		if tr.TrackSID == sid {
			return tr, true
		}
	}
	return bot.TrackStats{}, false
}

// assertHealthy checks what every received track must show on loopback:
// complete frames starting with a keyframe, no loss, no freeze. One frame
// cut by a layer switch is allowed: a simulcast subscription may start on
// one layer and move to its default layer once. With bandwidth estimation
// on, three: a subscription starts on the lowest layer that fits the
// initial 1 Mbit/s estimate and climbs through the middle one as probes
// prove more, and a second track arriving can move the first down once.
func assertHealthy(t *testing.T, name string, s bot.Stats) {
	t.Helper()
	maxCuts := uint64(1)
	if bweEnabled() {
		maxCuts = 3
	}
	for _, tr := range s.Tracks {
		if tr.Packets == 0 {
			t.Errorf("%s: track %s (%s) received nothing", name, tr.TrackSID, tr.Kind)
		}
		if !tr.FirstFrameKeyframe {
			t.Errorf("%s: track %s first frame was not a keyframe", name, tr.TrackSID)
		}
		if tr.Incomplete > 0 || tr.SwitchCuts > maxCuts {
			// Late packets name a retransmission that came after the
			// bot's jitter buffer gave up the frame, not a loss.
			t.Errorf("%s: track %s has %d incomplete frames, %d cut by switches (lost %d, late %d, %d packets)",
				name, tr.TrackSID, tr.Incomplete, tr.SwitchCuts, tr.Lost, tr.LatePackets, tr.Packets)
		}
		if tr.Freezes > 0 {
			t.Errorf("%s: track %s froze %d times (%v)", name, tr.TrackSID, tr.Freezes, tr.FreezeTime)
		}
		if tr.Lost > 0 {
			t.Errorf("%s: track %s lost %d packets", name, tr.TrackSID, tr.Lost)
		}
	}
}

// bweEnabled is whether the suite's servers estimate bandwidth: the
// default configuration's choice, or HIBIKI_TEST_BWE's (1 on, 0 off).
func bweEnabled() bool {
	if v := os.Getenv("HIBIKI_TEST_BWE"); v != "" {
		return v != "0"
	}
	return app.DefaultConfig().BWE.Enabled
}

// mediaPort returns a loopback UDP port that was free a moment ago, for
// the server's one media port; 0 (a port per connection) if none is.
func mediaPort() int {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0
	}
	defer func() { _ = c.Close() }()
	return c.LocalAddr().(*net.UDPAddr).Port
}
