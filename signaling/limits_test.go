package signaling

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var b bucket
	for i := range 3 {
		if !b.take(t0, 1, 3) {
			t.Fatalf("take %d refused within the burst", i)
		}
	}
	if b.take(t0, 1, 3) {
		t.Fatal("take beyond the burst allowed")
	}
	if !b.take(t0.Add(time.Second), 1, 3) || b.take(t0.Add(time.Second), 1, 3) {
		t.Fatal("one second did not refill exactly one token")
	}
	if !b.full(t0.Add(10*time.Second), 1, 3) {
		t.Fatal("bucket not full after a long pause")
	}
}

func TestIPLimiter(t *testing.T) {
	l := newIPLimiter(3)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	t0 := time.Unix(1000, 0)
	for range 3 {
		if !l.allow(a, t0) {
			t.Fatal("refused within the burst")
		}
	}
	if l.allow(a, t0) {
		t.Fatal("fourth join in a minute allowed")
	}
	if !l.allow(b, t0) {
		t.Fatal("another address was limited")
	}
	if !l.allow(a, t0.Add(20*time.Second)) {
		t.Fatal("20 s did not allow one more join (3 a minute)")
	}
	// The table stays bounded whatever the number of addresses.
	for i := range maxTrackedIPs + 10 {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), t0)
	}
	if n := len(l.buckets); n > maxTrackedIPs {
		t.Fatalf("%d addresses tracked, bound %d", n, maxTrackedIPs)
	}
	var unlimited *ipLimiter
	if !unlimited.allow(a, t0) || !newIPLimiter(0).allow(a, t0) {
		t.Fatal("a zero limit refused")
	}
}

func TestMessageRateLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Limits = Limits{MessagesPerSecond: 0.001, MessageBurst: 5} })
	c := h.connect(t)
	for range 5 {
		c.ping()
	}
	if r := c.request(&Message{Type: TypePing}); r.Type != TypeError || r.Code != CodeRateLimited {
		t.Fatalf("sixth message answered with %+v, want rate_limited", r)
	}
	if n := h.sig.Refusals().RateLimited.Load(); n != 1 {
		t.Fatalf("rate refusals counted %d, want 1", n)
	}
	// A client that keeps going is closed after twice its burst.
	for range 10 {
		c.send(&Message{Type: TypePing})
	}
	c.expectClosed()
	if n := h.sig.Refusals().Violations.Load(); n != 1 {
		t.Fatalf("violations counted %d, want 1", n)
	}
}

func TestJoinRateLimitPerIP(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Limits = Limits{JoinsPerIPPerMinute: 2} })
	for _, id := range []string{"a", "b"} {
		h.connect(t).join(h.token(t, "r", id, AllGrants()))
	}
	c := h.connect(t)
	r := c.request(&Message{Type: TypeJoin, Token: h.token(t, "r", "c", AllGrants())})
	if r.Type != TypeError || r.Code != CodeRateLimited {
		t.Fatalf("third join answered with %+v, want rate_limited", r)
	}
	c.expectClosed()
	if n := h.sig.Refusals().JoinsLimited.Load(); n != 1 {
		t.Fatalf("join refusals counted %d, want 1", n)
	}
}

func TestAllowedOrigins(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.AllowedOrigins = []string{"https://app.example.org"} })
	dial := func(origin string) int {
		hdr := http.Header{}
		if origin != "" {
			hdr.Set("Origin", origin)
		}
		conn, resp, err := websocket.DefaultDialer.Dial(h.url, hdr)
		if err == nil {
			_ = conn.Close()
		}
		if resp == nil {
			t.Fatalf("dial %q: %v", origin, err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	host := strings.TrimPrefix(h.url, "ws://")
	host = strings.TrimSuffix(host, "/")
	cases := []struct {
		origin string
		want   int
	}{
		{"", http.StatusSwitchingProtocols},
		{"https://app.example.org", http.StatusSwitchingProtocols},
		{"http://" + host, http.StatusSwitchingProtocols},
		{"https://evil.example.net", http.StatusForbidden},
		{"https://app.example.org.evil.example.net", http.StatusForbidden},
	}
	for _, c := range cases {
		if got := dial(c.origin); got != c.want {
			t.Errorf("origin %q: status %d, want %d", c.origin, got, c.want)
		}
	}
	if n := h.sig.Refusals().Origin.Load(); n != 2 {
		t.Errorf("origin refusals counted %d, want 2", n)
	}
}

func TestTokenAudience(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Verifier = AudienceVerifier{Keys: KeySet{testKey: testSecret}, Audience: "hibiki-prod"}
	})
	mint := func(aud string) string {
		tok, err := NewAudienceToken(testKey, testSecret, aud, "r", "alice", "", AllGrants(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, aud := range []string{"", "other-service"} {
		c := h.connect(t)
		if r := c.request(&Message{Type: TypeJoin, Token: mint(aud)}); r.Code != CodeBadToken {
			t.Errorf("audience %q answered with %+v, want bad_token", aud, r)
		}
	}
	h.connect(t).join(mint("hibiki-prod"))
	if n := h.sig.Refusals().Token.Load(); n != 2 {
		t.Errorf("token refusals counted %d, want 2", n)
	}
}

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p) //nolint:wrapcheck // bytes.Buffer never fails
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Tokens are credentials: no log line, at any level, may carry one or its
// signature, whether the join succeeds, fails, expires or resumes.
func TestTokensNeverLogged(t *testing.T) {
	var logs lockedBuffer
	h := newHarness(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.ResumeWindow = time.Minute
	})
	good := h.token(t, "r", "alice", AllGrants())
	expired, err := NewToken(testKey, testSecret, "r", "bob", "", AllGrants(), -time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged := good[:strings.LastIndexByte(good, '.')+1] + "c2lnbmF0dXJl"
	c := h.connect(t)
	joined := c.join(good)
	for _, tok := range []string{expired, forged, "not-a-jwt", good + "x"} {
		b := h.connect(t)
		if r := b.request(&Message{Type: TypeJoin, Token: tok}); r.Type != TypeError {
			t.Fatalf("join with a bad token answered with %+v", r)
		}
	}
	c.drop()
	r := h.connect(t)
	if m := r.request(&Message{Type: TypeJoin, Token: good, Resume: joined.SessionID}); !m.Resumed {
		t.Fatalf("resume answered with %+v", m)
	}
	r.request(&Message{Type: TypeLeave})
	out := logs.String()
	if !strings.Contains(out, "request refused") {
		t.Fatalf("refusals were not logged:\n%s", out)
	}
	for _, tok := range []string{good, expired, forged} {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(out, sig) {
			t.Fatalf("a token signature appears in the logs:\n%s", out)
		}
	}
}
