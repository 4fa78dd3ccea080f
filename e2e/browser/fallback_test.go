package browser

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
)

// upgradeRefusingProxy is an HTTP forward proxy that passes plain requests
// and refuses WebSockets: Upgrade requests and CONNECT tunnels (Chromium
// tunnels ws:// through a proxy with CONNECT) get 403, unless allow is set,
// when CONNECT tunnels are made.
type upgradeRefusingProxy struct {
	allow     atomic.Bool
	refused   atomic.Int64
	forwarded atomic.Int64
	tunnels   atomic.Int64
	longPolls atomic.Int64
	tr        *http.Transport
	wg        sync.WaitGroup
}

func (p *upgradeRefusingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect || r.Header.Get("Upgrade") != "" {
		if r.Method == http.MethodConnect && p.allow.Load() {
			p.tunnel(w, r)
			return
		}
		p.refused.Add(1)
		http.Error(w, "this proxy refuses upgrades", http.StatusForbidden)
		return
	}
	p.forwarded.Add(1)
	if strings.HasPrefix(r.URL.Path, "/lp") {
		p.longPolls.Add(1)
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header.Del("Proxy-Connection")
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// tunnel serves an allowed CONNECT: bytes both ways until either side ends.
func (p *upgradeRefusingProxy) tunnel(w http.ResponseWriter, r *http.Request) {
	p.tunnels.Add(1)
	up, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	client, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		_ = up.Close()
		return
	}
	_, _ = client.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	p.wg.Add(2)
	go func() { defer p.wg.Done(); _, _ = io.Copy(up, client); _ = up.Close() }()
	go func() { defer p.wg.Done(); _, _ = io.Copy(client, up); _ = client.Close() }()
}

func startProxy(t *testing.T) (*upgradeRefusingProxy, string) {
	t.Helper()
	p := &upgradeRefusingProxy{tr: &http.Transport{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		p.tr.CloseIdleConnections()
		p.wg.Wait()
	})
	return p, "http://" + ln.Addr().String()
}

// Chromium behind a proxy that refuses WebSockets joins through the
// long-poll fallback, exchanges video with a bot, shows "long-poll", and
// goes back to a WebSocket on a later reconnect once the proxy lets it.
func TestLongPollFallbackBehindProxy(t *testing.T) {
	requireBrowserEnv(t)
	ctx := deadline(t, 80*time.Second)
	srv := startServer(t)
	proxy, proxyURL := startProxy(t)
	b := newBrowserWith(t, ctx, "alice",
		chromedp.ProxyServer(proxyURL),
		chromedp.Flag("proxy-bypass-list", "<-loopback>"))
	joinRoom(ctx, t, srv, b, "fallback", "Alice")
	var transport, label string
	var fallbackMs float64
	b.mustEval(ctx, `document.body.dataset.transport`, &transport)
	b.mustEval(ctx, `document.getElementById('conn-state').textContent`, &label)
	b.mustEval(ctx, `window.hibikiRoom.session.signal.fallbackTookMs`, &fallbackMs)
	if transport != "longpoll" || label != "long-poll" {
		t.Fatalf("page uses %q (shows %q), want longpoll", transport, label)
	}
	if proxy.refused.Load() == 0 || proxy.longPolls.Load() == 0 {
		t.Fatalf("proxy refused %d upgrades and forwarded %d long-poll requests", proxy.refused.Load(), proxy.longPolls.Load())
	}
	t.Logf("fallback to long-poll took %.0f ms (proxy: %d refused, %d forwarded)", fallbackMs, proxy.refused.Load(), proxy.forwarded.Load())
	if fallbackMs > 3000 {
		t.Errorf("fallback took %.0f ms, want < 3000", fallbackMs)
	}

	pub, err := bot.New(bot.Config{
		URL: "ws" + strings.TrimPrefix(srv.base, "http") + "/ws", Room: "fallback", Identity: "Bot",
		Publish: true, Subscribe: true, AllowIPs: []netip.Prefix{netip.MustParsePrefix(serverIP + "/24")},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	if err := pub.Connect(ctx); err != nil {
		t.Fatalf("bot: %v", err)
	}
	video := waitMedia(ctx, t, b, "Bot", "camera")
	audio := waitMedia(ctx, t, b, "Bot", "microphone")
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pub.WaitTracks(wctx, 2); err != nil {
		t.Fatalf("bot receives Alice's tracks: %v", err)
	}
	sleep(ctx, time.Second) // the first frames after a subscription may stutter
	mediaFlows(ctx, t, b, video, audio, 2*time.Second)

	// The proxy now passes WebSockets; the next reconnect uses one again.
	proxy.allow.Store(true)
	b.mustEval(ctx, `(window.hibikiRoom.session.signal.link.fail('test: link cut'), true)`, nil)
	b.waitFor(ctx, "a WebSocket after the reconnect",
		`document.body.dataset.transport === 'websocket' && window.hibikiRoom.state === 'connected'`, 20*time.Second)
	if proxy.tunnels.Load() == 0 {
		t.Errorf("the WebSocket did not go through the proxy")
	}
	waitMedia(ctx, t, b, "Bot", "camera")
}
