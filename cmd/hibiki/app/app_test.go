package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hibiki-sfu/hibiki/signaling"
	"go.uber.org/goleak"
)

// An App starts HTTP, signaling and pion goroutines; Close must end them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type running struct {
	app    *App
	base   string
	client *http.Client
	served chan error
}

// start serves an App on a free loopback port; media uses ephemeral UDP
// ports so parallel test binaries do not clash on 7882.
func start(t *testing.T, edit func(*Config)) *running {
	t.Helper()
	cfg := DefaultConfig()
	cfg.RTC.UDPPort = 0
	cfg.RTC.TCPPort = 0
	if edit != nil {
		edit(&cfg)
	}
	a, err := New(cfg, fstest.MapFS{"index.html": {Data: []byte("<h1>hibiki</h1>")}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = a.Close()
		t.Fatalf("listen: %v", err)
	}
	r := &running{
		app:    a,
		base:   "http://" + ln.Addr().String(),
		client: &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second},
		served: make(chan error, 1),
	}
	go func() { r.served <- a.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		r.client.CloseIdleConnections()
		r.stop(t)
	})
	return r
}

// stop closes the App and waits for Serve to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.served == nil {
		return
	}
	if err := r.app.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-r.served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	r.served = nil
}

func (r *running) get(t *testing.T, path string) (int, http.Header, string) {
	t.Helper()
	resp, err := r.client.Get(r.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen = ""
	if a, err := New(cfg, nil, nil); !errors.Is(err, ErrConfig) {
		if a != nil {
			_ = a.Close()
		}
		t.Fatalf("New = %v, want ErrConfig", err)
	}
}

func TestRoutes(t *testing.T) {
	r := start(t, nil)
	tests := []struct {
		name   string
		path   string
		status int
		body   string // substring
	}{
		{"healthz", "/healthz", http.StatusOK, "ok"},
		{"static page", "/", http.StatusOK, "<h1>hibiki</h1>"},
		{"missing room", "/dev/token?identity=alice", http.StatusBadRequest, "required"},
		{"missing identity", "/dev/token?room=demo", http.StatusBadRequest, "required"},
		{"no params", "/dev/token", http.StatusBadRequest, "required"},
		{"room too long", "/dev/token?identity=a&room=" + strings.Repeat("r", 129), http.StatusBadRequest, ""},
		{"name too long", "/dev/token?identity=a&room=r&name=" + strings.Repeat("n", 129), http.StatusBadRequest, ""},
		{"metrics", "/metrics", http.StatusOK, "hibiki_rooms 0"},
		{"admin off without a key", "/admin/rooms", http.StatusNotFound, ""},
		{"whip wants POST", "/whip/demo", http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := r.get(t, tt.path)
			if status != tt.status || !strings.Contains(body, tt.body) {
				t.Errorf("GET %s = %d %q, want %d containing %q", tt.path, status, body, tt.status, tt.body)
			}
		})
	}
}

func TestDevToken(t *testing.T) {
	r := start(t, nil)
	q := url.Values{"room": {"demo room"}, "identity": {"alice"}, "name": {"Alice A."}}
	status, hdr, body := r.get(t, "/dev/token?"+q.Encode())
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := hdr.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	var out struct{ Token string }
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Token == "" {
		t.Fatalf("body %q: %v", body, err)
	}
	claims, err := signaling.KeySet(DefaultConfig().Keys).Verify(out.Token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims.Room != "demo room" || claims.Identity() != "alice" || claims.Name != "Alice A." || claims.Grants != signaling.AllGrants() {
		t.Errorf("claims = %+v", claims)
	}
	// Another server's keys refuse it.
	if _, err := (signaling.KeySet{signaling.DevAPIKey: "other"}).Verify(out.Token); !errors.Is(err, signaling.ErrTokenInvalid) {
		t.Errorf("token verified with another secret: %v", err)
	}

	// The token admits its holder over the app's own /ws.
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(r.base, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	_ = resp.Body.Close()
	defer conn.Close()
	if err := conn.WriteJSON(signaling.Message{Type: signaling.TypeJoin, ID: "1", Token: out.Token}); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var joined signaling.Message
	if err := conn.ReadJSON(&joined); err != nil {
		t.Fatalf("read joined: %v", err)
	}
	if joined.Type != signaling.TypeJoined || joined.Room != "demo room" || joined.Participant.Identity != "alice" {
		t.Errorf("joined = %+v", joined)
	}
	if rooms := r.app.SFU().Rooms(); len(rooms) != 1 || len(rooms[0].Participants()) != 1 {
		t.Errorf("rooms = %v", rooms)
	}
	// Close ends the joined session too.
	r.stop(t)
	if _, _, err := conn.ReadMessage(); err == nil {
		t.Error("socket still open after Close")
	}
	if n := r.app.Signaling().Sessions(); n != 0 {
		t.Errorf("%d sessions after Close", n)
	}
}

func TestDevTokenSignsWithConfiguredKey(t *testing.T) {
	r := start(t, func(c *Config) { c.APIKey, c.APISecret = "prod", "prod-secret" })
	status, _, body := r.get(t, "/dev/token?room=r&identity=i")
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var out struct{ Token string }
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if _, err := (signaling.KeySet{"prod": "prod-secret"}).Verify(out.Token); err != nil {
		t.Errorf("Verify with the configured key: %v", err)
	}
	if _, err := (signaling.KeySet{signaling.DevAPIKey: signaling.DevAPISecret}).Verify(out.Token); err == nil {
		t.Error("token verifies with the development key")
	}
}

func TestDevTokenOffOutsideDevMode(t *testing.T) {
	r := start(t, func(c *Config) { c.Dev = false })
	for _, path := range []string{"/dev/token?room=r&identity=i", "/dev/token"} {
		if status, _, body := r.get(t, path); status != http.StatusNotFound {
			t.Errorf("GET %s = %d %q, want 404", path, status, body)
		}
	}
	if status, _, _ := r.get(t, "/healthz"); status != http.StatusOK {
		t.Errorf("healthz = %d", status)
	}
}

func TestServeEndsWithContext(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RTC.UDPPort = 0
	cfg.RTC.TCPPort = 0
	a, err := New(cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the context ended")
	}
	// Closing again after the context closed it is harmless.
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestHandlerServesRoutes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RTC.UDPPort = 0
	cfg.RTC.TCPPort = 0
	a, err := New(cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("healthz via Handler = %d %q", rec.Code, rec.Body.String())
	}
}
