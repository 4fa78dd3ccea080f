package bwe

import (
	"context"
	"fmt"
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
	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
)

// The virtual network: one flat WAN, the server and the publishers on
// clean links, the subscriber behind a link with a rate cap (token bucket
// with a queue of tbfLatency at the rate, as tc tbf's "latency", but at
// least tbfMinQueue bytes), a delay
// and random loss, all on its downlink, where the SFU's estimator works.
const (
	wanCIDR    = "10.99.0.0/24"
	serverIP   = "10.99.0.1"
	subIP      = "10.99.0.2"
	tbfLatency = 200 * time.Millisecond
	// tbfMinQueue keeps at least about 25 full-size packets of buffer, so a
	// keyframe burst fits on a slow link as it does behind real routers.
	tbfMinQueue = 30_000
	statsPeriod = 200 * time.Millisecond
)

// link is the subscriber's downlink.
type link struct {
	mu    sync.Mutex
	tbf   *vnet.TBFQueue
	queue *vnet.Queue
	delay *vnet.DelayFilter
	rate  int // bit/s, 0 = uncapped
}

// setRate changes the cap (bit/s); the queue holds tbfLatency of it.
func (l *link) setRate(bps int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate = bps
	l.tbf.SetRate(bps)
	l.tbf.SetSize(max(int64(bps)*int64(tbfLatency)/int64(time.Second)/8, tbfMinQueue))
	l.tbf.SetBurst(max(bps/8/50, 3000)) // 20 ms of the rate
}

func (l *link) Rate() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate
}

// testbed is a server and its bots on one vnet.
type testbed struct {
	t      *testing.T
	wan    *vnet.Router
	down   *link
	srv    *app.App
	url    string
	nextIP int
	subNet *vnet.Net // behind the impaired downlink
}

// linkConfig describes the subscriber's downlink.
type linkConfig struct {
	rateBps int           // 0: no cap
	delay   time.Duration // one way, downlink only
	lossPct int           // random loss on the downlink
}

func newTestbed(t *testing.T, lc linkConfig) *testbed {
	t.Helper()
	quiet := logging.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = logging.LogLevelError
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: wanCIDR, LoggerFactory: quiet})
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	tb := &testbed{t: t, wan: wan, nextIP: 10}
	serverNet := tb.newNet(serverIP)
	if err := wan.AddNet(serverNet); err != nil {
		t.Fatalf("add server net: %v", err)
	}
	tb.down = &link{}
	rate := lc.rateBps
	if rate == 0 {
		rate = 1_000_000_000 // uncapped: the queue never fills
	}
	tb.down.tbf = vnet.NewTBFQueue(rate, 3000, 1<<20)
	tb.down.setRate(rate)
	if lc.rateBps == 0 {
		tb.down.rate = 0
	}
	subNet := tb.newNet(subIP)
	var nic vnet.NIC = subNet
	if lc.lossPct > 0 {
		lf, err := vnet.NewLossFilter(nic, lc.lossPct, vnet.WithLossSeed(1))
		if err != nil {
			t.Fatalf("loss filter: %v", err)
		}
		nic = lf
	}
	df, err := vnet.NewDelayFilter(nic, vnet.WithDelay(lc.delay))
	if err != nil {
		t.Fatalf("delay filter: %v", err)
	}
	tb.down.delay = df
	q, err := vnet.NewQueue(df, tb.down.tbf)
	if err != nil {
		t.Fatalf("queue: %v", err)
	}
	tb.down.queue = q
	if err := wan.AddNet(q); err != nil {
		t.Fatalf("add subscriber net: %v", err)
	}
	if err := wan.Start(); err != nil {
		t.Fatalf("start router: %v", err)
	}
	t.Cleanup(func() {
		_ = wan.Stop()
		_ = q.Close()
		_ = df.Close()
	})
	tb.startServer(serverNet)
	tb.subNet = subNet
	return tb
}

func (tb *testbed) newNet(ip string) *vnet.Net {
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
	if err != nil {
		tb.t.Fatalf("net %s: %v", ip, err)
	}
	return n
}

func (tb *testbed) startServer(n *vnet.Net) {
	t := tb.t
	cfg := app.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.RTC.UDPPort = 0
	cfg.RTC.TCPPort = 0
	cfg.Room.P2P = false // the subscriber's media must take the impaired SFU path
	cfg.RTC.IPs = []string{serverIP}
	cfg.RTC.Net = n
	cfg.Room.EmptyGrace = 200 * time.Millisecond
	cfg.BWE.Enabled = true
	cfg.BWE.StatsInterval = statsPeriod
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
	tb.srv = a
	tb.url = "ws://" + ln.Addr().String() + "/ws"
}

// loadClips parses the bots' media once for the whole package.
var loadClips = sync.OnceValues(media.Load)

// botOn builds a bot on its own vnet address (or on the impaired
// subscriber address) and connects it.
func (tb *testbed) bot(ctx context.Context, cfg bot.Config, n *vnet.Net) *bot.Bot {
	t := tb.t
	t.Helper()
	clips, err := loadClips()
	if err != nil {
		t.Fatalf("media: %v", err)
	}
	if n == nil {
		n = tb.newNet(fmt.Sprintf("10.99.0.%d", tb.nextIP))
		tb.nextIP++
		if err := tb.wan.AddNet(n); err != nil {
			t.Fatalf("add bot net: %v", err)
		}
	}
	cfg.URL = tb.url
	cfg.Media = clips
	cfg.AllowIPs = []netip.Prefix{netip.MustParsePrefix(wanCIDR)}
	cfg.ConfigureAPI = func(se *webrtc.SettingEngine) { se.SetNet(n) }
	if os.Getenv("HIBIKI_TEST_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := bot.New(cfg)
	if err != nil {
		t.Fatalf("bot %s: %v", cfg.Identity, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Connect(ctx); err != nil {
		t.Fatalf("bot %s connect: %v", cfg.Identity, err)
	}
	return b
}

// deadline bounds a test; every wait in it uses the returned context.
func deadline(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
