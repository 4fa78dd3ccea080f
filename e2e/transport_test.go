package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	_ "github.com/hibiki-sfu/hibiki/internal/xconnect" // WebSocket over HTTP/2 in this test binary
	"github.com/hibiki-sfu/hibiki/signaling"
	"golang.org/x/net/http2"
)

// transportBot connects a bot over the given signaling transport.
func transportBot(ctx context.Context, t *testing.T, srv *server, cfg bot.Config) *bot.Bot {
	t.Helper()
	cfg.URL, cfg.TLSConfig, cfg.Media = srv.url, srv.tls, clips(t)
	b, err := bot.New(cfg)
	if err != nil {
		t.Fatalf("bot %s: %v", cfg.Identity, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Connect(ctx); err != nil {
		t.Fatalf("bot %s connect over %s: %v", cfg.Identity, cfg.Transport, err)
	}
	return b
}

// Ten bots signal over long-poll only: three publish (and subscribe), seven
// subscribe; every bot receives every track, with no freeze and no loss.
func TestLongPollTenBots(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 60*time.Second)
	const room, pubs, subs = "lp10", 3, 7
	bots := make([]*bot.Bot, 0, pubs+subs)
	for i := range pubs + subs {
		bots = append(bots, transportBot(ctx, t, srv, bot.Config{
			Room: room, Identity: fmt.Sprintf("b%d", i), Transport: bot.TransportLongPoll,
			Publish: i < pubs, Subscribe: true,
		}))
	}
	var wg sync.WaitGroup
	for i, b := range bots {
		want := 2 * pubs
		if i < pubs {
			want = 2 * (pubs - 1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := b.WaitStats(ctx, func(st bot.Stats) bool {
				return st.Totals.TracksReceiving >= want && st.VideoFrames() >= uint64(want/2)*60
			})
			if err != nil {
				t.Errorf("b%d: %v (receiving %d tracks, want %d)", i, err, st.Totals.TracksReceiving, want)
				return
			}
			if len(st.Tracks) != want {
				t.Errorf("b%d received %d tracks, want %d", i, len(st.Tracks), want)
			}
			assertHealthy(t, fmt.Sprintf("b%d", i), st)
		}()
	}
	wg.Wait()
	if got := srv.app.Signaling().Sessions(); got != pubs+subs {
		t.Errorf("%d sessions, want %d", got, pubs+subs)
	}
}

// lossyTransport loses the reply of every nth long-poll request after the
// server handled it (a poll whose messages never arrive, a send whose ack
// never arrives) and measures how long polls take to bring a message.
type lossyTransport struct {
	next  http.RoundTripper
	every int

	mu      sync.Mutex
	n       int
	dropped int
}

func (l *lossyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.n++
	drop := l.n%l.every == 0
	if drop {
		l.dropped++
	}
	l.mu.Unlock()
	if !drop {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return nil, fmt.Errorf("test: reply to %s dropped", r.Method)
}

// A long-poll bot whose every third reply is lost mid-flight still sees
// every event exactly once and in order, and receives the media.
func TestLongPollDroppedPollsLoseNoEvent(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 45*time.Second)
	lossy := &lossyTransport{next: http.DefaultTransport.(*http.Transport).Clone(), every: 3}
	t.Cleanup(func() { lossy.next.(*http.Transport).CloseIdleConnections() })
	watcher := transportBot(ctx, t, srv, bot.Config{
		Room: "drops", Identity: "watcher", Transport: bot.TransportLongPoll, Subscribe: true,
		LongPollClient: &http.Client{Transport: lossy},
	})
	const n = 6
	var order []string // what the watcher must see, in this order
	for i := range n {
		name := fmt.Sprintf("p%d", i)
		p := newBot(ctx, t, srv, "drops", name, true, false)
		sid := p.Self().SID
		if _, err := watcher.WaitMessage(ctx, func(m *signaling.Message) bool {
			return m.Type == signaling.TypeTrackPublished && m.ParticipantSID == sid && m.Track.Kind == "video"
		}); err != nil {
			t.Fatalf("watcher never saw %s's video: %v", name, err)
		}
		if err := p.Leave(ctx); err != nil {
			t.Fatalf("%s leave: %v", name, err)
		}
		if _, err := watcher.WaitMessage(ctx, func(m *signaling.Message) bool {
			return m.Type == signaling.TypeParticipantLeft && m.ParticipantSID == sid
		}); err != nil {
			t.Fatalf("watcher never saw %s leave: %v", name, err)
		}
		order = append(order, "joined "+sid, "left "+sid)
	}
	var got []string
	for _, m := range watcher.Events() {
		switch m.Type {
		case signaling.TypeParticipantJoined:
			got = append(got, "joined "+m.Participant.SID)
		case signaling.TypeParticipantLeft:
			got = append(got, "left "+m.ParticipantSID)
		}
	}
	if strings.Join(got, ",") != strings.Join(order, ",") {
		t.Errorf("watcher saw\n%v\nwant\n%v", got, order)
	}
	lossy.mu.Lock()
	defer lossy.mu.Unlock()
	if lossy.dropped < 8 {
		t.Errorf("only %d of %d replies dropped", lossy.dropped, lossy.n)
	}
	t.Logf("%d long-poll requests, %d replies dropped", lossy.n, lossy.dropped)
}

// WebSocket over HTTP/2 on the TLS port: the server announces extended
// CONNECT, a publisher and a subscriber signal over HTTP/2 streams and the
// media flows; a classic WebSocket and a long-poll bot share the port.
func TestWebSocketOverHTTP2Media(t *testing.T) {
	srv := startServer(t, func(c *app.Config) { c.TLS.DevSelfSigned = true })
	ctx := deadline(t, 45*time.Second)
	addr := strings.TrimSuffix(strings.TrimPrefix(srv.url, "wss://"), "/ws")
	checkSettings(t, addr, srv.tls)
	checkCurlHTTP2(t, addr)

	transportBot(ctx, t, srv, bot.Config{Room: "h2", Identity: "pub", Publish: true, Transport: bot.TransportWebSocketH2})
	sub := transportBot(ctx, t, srv, bot.Config{Room: "h2", Identity: "sub", Subscribe: true, Transport: bot.TransportWebSocketH2})
	h1 := transportBot(ctx, t, srv, bot.Config{Room: "h2", Identity: "h1", Subscribe: true, Transport: bot.TransportWebSocket})
	lp := transportBot(ctx, t, srv, bot.Config{Room: "h2", Identity: "lp", Subscribe: true, Transport: bot.TransportLongPoll})
	for name, b := range map[string]*bot.Bot{"h2 subscriber": sub, "http/1.1 subscriber": h1, "long-poll subscriber": lp} {
		st, err := b.WaitStats(ctx, func(st bot.Stats) bool { return st.Totals.TracksReceiving >= 2 && st.VideoFrames() >= 60 })
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		assertHealthy(t, name, st)
	}
	// The signaling stream survives a drop like a socket does: resume.
	sub.DropSignal()
	if _, err := sub.WaitStats(ctx, func(st bot.Stats) bool { return st.Reconnects >= 1 }); err != nil {
		t.Fatalf("h2 subscriber did not resume: %v", err)
	}
}

// checkSettings reads the server's first HTTP/2 SETTINGS frame with a raw
// framer: RFC 8441 needs SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 in it.
func checkSettings(t *testing.T, addr string, cfg *tls.Config) {
	t.Helper()
	c := cfg.Clone()
	c.NextProtos = []string{http2.NextProtoTLS}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, c)
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q, want h2", p)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read SETTINGS: %v", err)
		}
		sf, ok := f.(*http2.SettingsFrame)
		if !ok || sf.IsAck() {
			continue
		}
		v, ok := sf.Value(http2.SettingEnableConnectProtocol)
		if !ok || v != 1 {
			t.Fatalf("SETTINGS lack ENABLE_CONNECT_PROTOCOL=1: %v", sf)
		}
		t.Logf("server SETTINGS: %v", sf)
		return
	}
}

// checkCurlHTTP2 asks curl (when installed) for the page over HTTP/2 and
// over HTTP/1.1 on the same port. curl 7.88 does not print the SETTINGS it
// receives, so checkSettings reads those.
func checkCurlHTTP2(t *testing.T, addr string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Logf("curl not installed: SETTINGS checked by the Go framer only")
		return
	}
	for _, v := range []struct{ flag, want string }{{"--http2", "2"}, {"--http1.1", "1.1"}} {
		out, err := exec.Command("curl", v.flag, "-sk", "-o", "/dev/null", "-w", "%{http_version}", "https://"+addr+"/healthz").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != v.want {
			t.Errorf("curl %s: %q %v, want HTTP %s", v.flag, out, err, v.want)
		}
	}
}
