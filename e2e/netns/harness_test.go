package netns

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/webrtc/v4"
)

// server is a hibiki server on serverIP with the production ports.
type server struct {
	app *app.App
	url string
}

// startServer runs the built-in config on serverIP: one UDP port (7882),
// ICE-TCP (7881); tweak adds TURN, relay-only and the like.
func startServer(t *testing.T, tweak func(*app.Config)) *server {
	t.Helper()
	requireNetns(t)
	cfg := app.DefaultConfig()
	cfg.Listen = net.JoinHostPort(serverIP, "7880")
	cfg.RTC.IPs = []string{serverIP}
	cfg.Room.EmptyGrace = 5 * time.Second
	if tweak != nil {
		tweak(&cfg)
	}
	level := slog.LevelWarn
	if os.Getenv("HIBIKI_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	a, err := app.New(cfg, nil, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		_ = a.Close()
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

// withTURN enables the embedded TURN server on UDP and TCP 3478.
func withTURN(c *app.Config) {
	c.TURN.UDPPort, c.TURN.TCPPort, c.TURN.Secret = 3478, 3478, "netns-test-secret"
}

var loadClips = sync.OnceValues(media.Load)

func deadline(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// botOpts describes one bot: its own address, what it does, and extra
// settings.
type botOpts struct {
	ip                 string
	publish, subscribe bool
	tcp                bool // gather ICE-TCP (active) candidates too
	edit               func(*bot.Config)
}

// newBot connects a bot whose ICE and signaling use only its own address,
// so the firewall can single it out.
func newBot(ctx context.Context, t *testing.T, srv *server, room, identity string, o botOpts) *bot.Bot {
	t.Helper()
	clips, err := loadClips()
	if err != nil {
		t.Fatalf("media: %v", err)
	}
	own := net.ParseIP(o.ip)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: own}}
	cfg := bot.Config{
		URL: srv.url, Room: room, Identity: identity,
		Publish: o.publish, Subscribe: o.subscribe, Media: clips,
		AllowIPs:       []netip.Prefix{netip.MustParsePrefix(o.ip + "/32")},
		NetDialContext: dialer.DialContext,
		ConfigureAPI: func(se *webrtc.SettingEngine) {
			se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(own) })
			nets := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
			if o.tcp {
				nets = append(nets, webrtc.NetworkTypeTCP4)
			}
			se.SetNetworkTypes(nets)
		},
	}
	if os.Getenv("HIBIKI_TEST_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.edit != nil {
		o.edit(&cfg)
	}
	b, err := bot.New(cfg)
	if err != nil {
		t.Fatalf("bot %s: %v", identity, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Connect(ctx); err != nil {
		t.Fatalf("bot %s connect: %v", identity, err)
	}
	return b
}

// waitMoreFrames waits until b received n more video frames than now.
func waitMoreFrames(ctx context.Context, t *testing.T, name string, b *bot.Bot, n uint64) {
	t.Helper()
	from := b.Stats().VideoFrames()
	if st, err := b.WaitStats(ctx, func(s bot.Stats) bool { return s.VideoFrames() >= from+n }); err != nil {
		t.Fatalf("%s: no media (%d frames, %d more wanted): %v", name, st.VideoFrames(), n, err)
	}
}

// pairs returns the bot's selected pairs on both connections (publish
// first); a connection that carries nothing may have none.
func pairs(t *testing.T, b *bot.Bot) map[string]*webrtc.ICECandidatePair {
	t.Helper()
	out := map[string]*webrtc.ICECandidatePair{}
	for _, target := range []string{signaling.TargetPublish, signaling.TargetSubscribe} {
		p, err := b.SelectedCandidatePair(target)
		if err != nil {
			t.Fatalf("selected pair %s: %v", target, err)
		}
		if p != nil {
			out[target] = p
		}
	}
	return out
}

// serverPairs returns the server's selected pairs for the bot's
// participant.
func serverPairs(t *testing.T, srv *server, room string, b *bot.Bot) map[string]*webrtc.ICECandidatePair {
	t.Helper()
	r := srv.app.SFU().Room(room)
	if r == nil {
		t.Fatalf("room %s gone", room)
	}
	p := r.Participant(b.Self().SID)
	if p == nil {
		t.Fatalf("participant %s gone", b.Self().SID)
	}
	out := map[string]*webrtc.ICECandidatePair{}
	for name, target := range map[string]sfu.Target{signaling.TargetPublish: sfu.TargetPublish, signaling.TargetSubscribe: sfu.TargetSubscribe} {
		pair, err := p.SelectedCandidatePair(target)
		if err != nil {
			t.Fatalf("server pair %s: %v", name, err)
		}
		if pair != nil {
			out[name] = pair
		}
	}
	return out
}

// countEvents counts the events of type typ that b received.
func countEvents(b *bot.Bot, typ string) int {
	n := 0
	for _, m := range b.Events() {
		if m.Type == typ {
			n++
		}
	}
	return n
}
