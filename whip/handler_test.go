package whip

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/hibiki-sfu/hibiki/signaling"
)

const (
	testKey    = "k"
	testSecret = "s"
)

type recorded struct {
	mu     sync.Mutex
	errors []string
}

func newTestHandler(t testing.TB) (*Handler, *recorded) {
	t.Helper()
	return newTestHandlerWith(t, nil)
}

// newTestHandlerWith is newTestHandler with tweak applied to the Config.
func newTestHandlerWith(t testing.TB, tweak func(*Config)) (*Handler, *recorded) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := sfu.New(sfu.DefaultRTCConfig(), sfu.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorded{}
	cfg := Config{
		Verifier:   signaling.KeySet{testKey: testSecret},
		StreamKeys: map[string]string{"live": "stream-key"},
		Logger:     logger,
		OnError: func(door string, status int) {
			rec.mu.Lock()
			rec.errors = append(rec.errors, door+" "+http.StatusText(status))
			rec.mu.Unlock()
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	h := New(s, cfg)
	t.Cleanup(func() {
		h.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return h, rec
}

func testToken(t testing.TB, room string, g signaling.Grants, ttl time.Duration) string {
	t.Helper()
	tok, err := signaling.NewToken(testKey, testSecret, room, "alice", "Alice", g, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestAuthorize(t *testing.T) {
	h, _ := newTestHandler(t)
	pub := signaling.Grants{CanPublish: true}
	sub := signaling.Grants{CanSubscribe: true}
	tests := []struct {
		name, room, auth string
		publish          bool
		status           int
		identity         string
	}{
		{"publish token", "live", "Bearer " + testToken(t, "live", pub, time.Hour), true, 0, "alice"},
		{"scheme is case-insensitive", "live", "bearer " + testToken(t, "live", pub, time.Hour), true, 0, "alice"},
		{"stream key", "live", "Bearer stream-key", true, 0, "whip-x"},
		{"stream key does not view", "live", "Bearer stream-key", false, http.StatusUnauthorized, ""},
		{"stream key of another room", "other", "Bearer stream-key", true, http.StatusUnauthorized, ""},
		{"view token", "live", "Bearer " + testToken(t, "live", sub, time.Hour), false, 0, "alice"},
		{"missing", "live", "", true, http.StatusUnauthorized, ""},
		{"basic scheme", "live", "Basic Zm9vOmJhcg==", true, http.StatusUnauthorized, ""},
		{"expired", "live", "Bearer " + testToken(t, "live", pub, -time.Minute), true, http.StatusUnauthorized, ""},
		{"no canPublish", "live", "Bearer " + testToken(t, "live", sub, time.Hour), true, http.StatusForbidden, ""},
		{"no canSubscribe", "live", "Bearer " + testToken(t, "live", pub, time.Hour), false, http.StatusForbidden, ""},
		{"another room", "other", "Bearer " + testToken(t, "live", pub, time.Hour), true, http.StatusForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/whip/"+tt.room, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			req, err := h.authorize(r, tt.room, tt.publish, "whip-x")
			if tt.status != 0 {
				var e *httpError
				if !errors.As(err, &e) || e.status != tt.status {
					t.Fatalf("err = %v, want status %d", err, tt.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Identity != tt.identity || req.Grants.CanSubscribe {
				t.Fatalf("join request %+v", req)
			}
		})
	}
}

// Requests that never reach the SFU: routing, preflight, unknown
// sessions; each refusal is reported to OnError with its door.
func TestHandlerRouting(t *testing.T) {
	h, rec := newTestHandler(t)
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodOptions, "/whip/live", http.StatusNoContent},
		{http.MethodOptions, "/whep/live/PA_x", http.StatusNoContent},
		{http.MethodGet, "/whip/live", http.StatusMethodNotAllowed},
		{http.MethodPatch, "/whip/live/nope", http.StatusNotFound},
		{http.MethodDelete, "/whip/live/nope", http.StatusNotFound},
		{http.MethodDelete, "/whep/live/PA_x/nope", http.StatusNotFound},
		{http.MethodPost, "/whip/live", http.StatusUnauthorized},
		{http.MethodPost, "/whep/live", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, strings.NewReader("")))
		if w.Code != tt.status {
			t.Errorf("%s %s = %d %q, want %d", tt.method, tt.path, w.Code, w.Body.String(), tt.status)
		}
		if w.Header().Get("Access-Control-Allow-Origin") != "*" && w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: no CORS header", tt.method, tt.path)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := "whip Not Found,whip Not Found,whep Not Found,whip Unauthorized,whep Unauthorized"
	if got := strings.Join(rec.errors, ","); got != want {
		t.Errorf("OnError saw %s, want %s", got, want)
	}
	if s := h.Sessions(); s[DoorWHIP] != 0 || s[DoorWHEP] != 0 {
		t.Errorf("sessions %v", s)
	}
}

// A WHEP request for a room that does not exist is a 404 from the SFU.
func TestWHEPUnknownRoom(t *testing.T) {
	h, _ := newTestHandler(t)
	offer := offerWith("m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\na=recvonly\r\n")
	r := httptest.NewRequest(http.MethodPost, "/whep/nowhere", strings.NewReader(offer))
	r.Header.Set("Authorization", "Bearer "+testToken(t, "nowhere", signaling.Grants{CanSubscribe: true}, time.Hour))
	r.Header.Set("Content-Type", "application/sdp")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("POST = %d %q", w.Code, w.Body.String())
	}
}

func TestSFUErrorStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{sfu.ErrBadSDP, http.StatusBadRequest},
		{sfu.ErrBadCandidate, http.StatusBadRequest},
		{sfu.ErrNoMedia, http.StatusUnprocessableEntity},
		{sfu.ErrRoomNotFound, http.StatusNotFound},
		{sfu.ErrNotFound, http.StatusNotFound},
		{sfu.ErrRoomFull, http.StatusServiceUnavailable},
		{sfu.ErrClosed, http.StatusServiceUnavailable},
		{errors.New("boom"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		if got := sfuError(tt.err).status; got != tt.want {
			t.Errorf("%v -> %d, want %d", tt.err, got, tt.want)
		}
	}
}
