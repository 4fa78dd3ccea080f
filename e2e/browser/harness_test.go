package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/examples/web"
)

// server is a hibiki server in the test process, serving the page.
type server struct {
	app  *app.App
	base string // http://127.0.0.1:PORT
}

// startServer runs a server on loopback whose media candidates are limited
// to loopback and the namespace's own veth address, with all media on one
// UDP port as in the default configuration. configure, if given,
// changes the configuration first.
func startServer(t *testing.T, configure ...func(*app.Config)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	cfg := app.DefaultConfig()
	cfg.Listen = ln.Addr().String() // known before configure: a node's URL names it
	cfg.Dev = true
	cfg.RTC.IPs = []string{"127.0.0.1", serverIP}
	cfg.RTC.UDPPort = freeUDPPort(t)
	cfg.RTC.TCPPort = 0
	cfg.Room.EmptyGrace = 200 * time.Millisecond
	for _, f := range configure {
		f(&cfg)
	}
	if v := os.Getenv("HIBIKI_TEST_BWE"); v != "" {
		cfg.BWE.Enabled = v != "0"
	}
	level := slog.LevelWarn
	if os.Getenv("HIBIKI_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	a, err := app.New(cfg, web.Files(), logger)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("new server: %v", err)
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
	return &server{app: a, base: "http://" + ln.Addr().String()}
}

// pageURL is the conference page joining room as name on its own.
func (s *server) pageURL(room, name string, extra url.Values) string {
	q := url.Values{"autojoin": {"1"}, "room": {room}, "name": {name}}
	for k, v := range extra {
		q[k] = v
	}
	return s.base + "/?" + q.Encode()
}

// browser is one headless Chromium with one tab.
type browser struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu      sync.Mutex
	console []string
}

// newBrowser starts Chromium with a fresh profile. It is closed (through
// chromedp's cancel) when the test ends.
func newBrowser(t *testing.T, parent context.Context, name string) *browser {
	t.Helper()
	return newBrowserWith(t, parent, name)
}

// newBrowserWith is newBrowser with extra command-line options.
func newBrowserWith(t *testing.T, parent context.Context, name string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	path, err := chromiumPath()
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", voiceFile(t)),
		chromedp.Flag("auto-select-desktop-capture-source", "Entire screen"),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("mute-audio", false),
		chromedp.WindowSize(1280, 800),
	)
	opts = append(opts, extra...)
	actx, acancel := chromedp.NewExecAllocator(parent, opts...)
	b := &browser{t: t, name: name}
	bctx, bcancel := chromedp.NewContext(actx)
	b.ctx = bctx
	t.Cleanup(func() {
		bcancel()
		acancel()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("%s: start chromium: %v", name, err)
	}
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.log(fmt.Sprintf("%s: %s", m.Type, m.Text))
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			b.dumpConsole()
		}
	})
	return b
}

func (b *browser) log(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.console = append(b.console, line)
	if len(b.console) > 200 {
		b.console = b.console[len(b.console)-200:]
	}
}

func (b *browser) dumpConsole() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.console {
		b.t.Logf("[%s] %s", b.name, l)
	}
}

// run runs chromedp actions on the tab, bounded by ctx (the test's deadline).
func (b *browser) run(ctx context.Context, actions ...chromedp.Action[chromedp.Void]) error {
	runCtx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	return chromedp.Do(runCtx, actions...)
}

// open navigates to u.
func (b *browser) open(ctx context.Context, u string) {
	b.t.Helper()
	if err := b.run(ctx, chromedp.Navigate(u)); err != nil {
		b.t.Fatalf("%s: open %s: %v", b.name, u, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its JSON value into out.
func (b *browser) eval(ctx context.Context, expr string, out any) error {
	runCtx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	raw, err := chromedp.Run(runCtx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if len(raw) == 0 {
		raw = []byte("null")
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode %s: %w", short(string(raw)), err)
	}
	return nil
}

// mustEval is eval that fails the test.
func (b *browser) mustEval(ctx context.Context, expr string, out any) {
	b.t.Helper()
	if err := b.eval(ctx, expr, out); err != nil {
		b.t.Fatalf("%s: eval %q: %v", b.name, short(expr), err)
	}
}

// waitFor polls a JavaScript expression (which may be a promise) until it
// is truthy.
func (b *browser) waitFor(ctx context.Context, what, expr string, timeout time.Duration) {
	b.t.Helper()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		var ok bool
		if last = b.eval(wctx, "(async () => !!(await ("+expr+")))()", &ok); last == nil && ok {
			return
		}
		select {
		case <-wctx.Done():
			b.t.Fatalf("%s: waited %v for %s (%s); last error: %v", b.name, timeout, what, short(expr), last)
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// summary is what window.hibikiRoom.statsSummary() returns (stats.js).
type summary struct {
	Time      float64    `json:"time"`
	Publish   *transport `json:"publish"`
	Subscribe *transport `json:"subscribe"`
}

type transport struct {
	ConnectionState string `json:"connectionState"`
	CandidatePair   *struct {
		State     string `json:"state"`
		Local     string `json:"local"`
		Remote    string `json:"remote"`
		LocalType string `json:"localType"`
		Protocol  string `json:"protocol"`
	} `json:"candidatePair"`
	Outbound []outbound `json:"outbound"`
	Inbound  []inbound  `json:"inbound"`
}

type outbound struct {
	Kind          string `json:"kind"`
	RID           string `json:"rid"`
	Active        bool   `json:"active"`
	PacketsSent   int64  `json:"packetsSent"`
	FramesEncoded int64  `json:"framesEncoded"`
	FrameWidth    int    `json:"frameWidth"`
}

type inbound struct {
	Kind                 string  `json:"kind"`
	Mid                  string  `json:"mid"`
	TrackSID             string  `json:"trackSid"`
	PacketsReceived      int64   `json:"packetsReceived"`
	PacketsLost          int64   `json:"packetsLost"`
	FramesDecoded        int64   `json:"framesDecoded"`
	FreezeCount          int64   `json:"freezeCount"`
	TotalFreezesDuration float64 `json:"totalFreezesDuration"`
	FrameWidth           int     `json:"frameWidth"`
	FrameHeight          int     `json:"frameHeight"`
	TotalSamplesReceived int64   `json:"totalSamplesReceived"`
	AudioLevel           float64 `json:"audioLevel"`
}

// stats reads the page's room statistics.
func (b *browser) stats(ctx context.Context) summary {
	b.t.Helper()
	var raw json.RawMessage
	b.mustEval(ctx, "window.hibikiRoom.statsSummary()", &raw)
	var s summary
	if err := json.Unmarshal(raw, &s); err != nil {
		b.t.Fatalf("%s: stats: %v", b.name, err)
	}
	return s
}

// inboundOf returns the inbound stream carrying trackSid.
func (s summary) inboundOf(trackSid string) (inbound, bool) {
	if s.Subscribe == nil {
		return inbound{}, false
	}
	for _, in := range s.Subscribe.Inbound {
		if in.TrackSID == trackSid {
			return in, true
		}
	}
	return inbound{}, false
}

// trackSid returns the SID of the remote track of participant (by name)
// with the given source, or "" while there is none.
func (b *browser) trackSid(ctx context.Context, participant, source string) string {
	b.t.Helper()
	var sid string
	b.mustEval(ctx, fmt.Sprintf(`(() => {
		for (const p of window.hibikiRoom.participants.values()) {
			if (p.name !== %q) continue;
			for (const t of p.tracks.values()) if (t.source === %q && t.subscribed) return t.sid;
		}
		return '';
	})()`, participant, source), &sid)
	return sid
}

// deadline bounds a test; every wait in it uses the returned context.
func deadline(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}
