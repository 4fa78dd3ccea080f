package whip

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
)

// A cluster node sends POSTs for rooms served elsewhere on with a 307 to
// the same path (escaping and query kept) and the CORS headers; a room
// that cannot be placed is a 503 with Retry-After; a request without a
// valid token is refused before the cluster is asked.
func TestPostRedirectsToServingNode(t *testing.T) {
	errRedis := errors.New("redis: connection refused")
	var mu sync.Mutex
	var asked []string
	h, rec := newTestHandlerWith(t, func(c *Config) {
		c.Locate = func(_ context.Context, room string) (string, error) {
			mu.Lock()
			asked = append(asked, room)
			mu.Unlock()
			switch room {
			case "down":
				return "", errRedis
			case "here":
				return "", nil
			}
			return "https://b.example.com:8443/", nil
		}
	})
	pub := signaling.Grants{CanPublish: true}
	sub := signaling.Grants{CanSubscribe: true}
	tests := []struct {
		name, path, room string
		grants           signaling.Grants
		status           int
		location         string
	}{
		{"whip", "/whip/a%20b?x=1", "a b", pub, http.StatusTemporaryRedirect, "https://b.example.com:8443/whip/a%20b?x=1"},
		{"whep default", "/whep/show", "show", sub, http.StatusTemporaryRedirect, "https://b.example.com:8443/whep/show"},
		{"whep participant", "/whep/show/alice", "show", sub, http.StatusTemporaryRedirect, "https://b.example.com:8443/whep/show/alice"},
		{"unavailable", "/whip/down", "down", pub, http.StatusServiceUnavailable, ""},
		// Served here: the offer is read, and this empty one refused.
		{"here", "/whip/here", "here", pub, http.StatusUnsupportedMediaType, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader("v=0\r\n"))
			r.Header.Set("Authorization", "Bearer "+testToken(t, tt.room, tt.grants, time.Hour))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status || w.Header().Get("Location") != tt.location {
				t.Fatalf("POST %s = %d Location %q (%q), want %d %q", tt.path, w.Code, w.Header().Get("Location"), w.Body.String(), tt.status, tt.location)
			}
			if w.Header().Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "Location") {
				t.Errorf("CORS headers missing: %v", w.Header())
			}
			if tt.status == http.StatusServiceUnavailable && (w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "retry")) {
				t.Errorf("503 without Retry-After or reason: %v %q", w.Header(), w.Body.String())
			}
		})
	}
	// No token: refused before the cluster is asked to place anything.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/whip/stranger", strings.NewReader("v=0\r\n")))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("POST without token = %d", w.Code)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(asked, ","); got != "a b,show,show,down,here" {
		t.Errorf("Locate asked for %q", got)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if got := strings.Join(rec.errors, ","); got != "whip Service Unavailable,whip Unsupported Media Type,whip Unauthorized" {
		t.Errorf("OnError saw %s (a redirect is no error)", got)
	}
}
