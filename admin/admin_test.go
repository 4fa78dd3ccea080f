package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hibiki-sfu/hibiki/sfu"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Without media the API can still be checked end to end on an SFU with a
// room holding one participant that joined without connecting.
func newTestAPI(t *testing.T) (*Handler, *sfu.SFU, *sfu.Participant) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := sfu.New(sfu.DefaultRTCConfig(), sfu.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	p, _, err := s.Join("ops", sfu.JoinRequest{Identity: "alice"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(s, "key", logger), s, p
}

func call(h http.Handler, method, path, auth, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestAdminRequests(t *testing.T) {
	h, s, p := newTestAPI(t)
	tests := []struct {
		name, method, path, auth, body string
		status                         int
		contains                       string
	}{
		{"no key", "GET", "/admin/rooms", "", "", 401, "admin key required"},
		{"wrong key", "GET", "/admin/rooms", "Bearer nope", "", 401, ""},
		{"wrong scheme", "GET", "/admin/rooms", "Basic key", "", 401, ""},
		{"list", "GET", "/admin/rooms", "Bearer key", "", 200, `"name":"ops","participants":1`},
		{"room", "GET", "/admin/rooms/ops", "Bearer key", "", 200, `"identity":"alice"`},
		{"unknown room", "GET", "/admin/rooms/nope", "Bearer key", "", 404, "no such room"},
		{"bad policy", "PUT", "/admin/rooms/ops/policy", "Bearer key", `{"relay":true}`, 400, "invalid JSON"},
		{"policy", "PUT", "/admin/rooms/ops/policy", "Bearer key", `{"relayOnly":true}`, 200, `"relayOnly":true`},
		{"policy shown", "GET", "/admin/rooms/ops", "Bearer key", "", 200, `"policy":{"relayOnly":true}`},
		{"mute unknown track", "POST", "/admin/rooms/ops/tracks/TR_x/mute", "Bearer key", `{"muted":true}`, 404, "no such track"},
		{"mute without muted", "POST", "/admin/rooms/ops/tracks/TR_x/mute", "Bearer key", `{}`, 400, "muted"},
		{"subscriptions", "GET", "/admin/rooms/ops/participants/" + p.SID() + "/subscriptions", "Bearer key", "", 200, `"subscriptions":[]`},
		{"subscriptions of nobody", "GET", "/admin/rooms/ops/participants/PA_x/subscriptions", "Bearer key", "", 404, "no such participant"},
		{"remove unknown", "DELETE", "/admin/rooms/ops/participants/PA_x", "Bearer key", "", 404, "no such participant"},
		{"method", "POST", "/admin/rooms", "Bearer key", "", 405, ""},
		{"remove", "DELETE", "/admin/rooms/ops/participants/" + p.SID(), "Bearer key", "", 200, p.SID()},
		{"removed", "GET", "/admin/rooms/ops", "Bearer key", "", 200, `"participants":[]`},
		{"close", "DELETE", "/admin/rooms/ops", "Bearer key", "", 200, `"closed":"ops"`},
		{"closed", "GET", "/admin/rooms/ops", "Bearer key", "", 404, ""},
	}
	for _, tt := range tests {
		w := call(h, tt.method, tt.path, tt.auth, tt.body)
		if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.contains) {
			t.Errorf("%s: %s %s = %d %s, want %d containing %q", tt.name, tt.method, tt.path, w.Code, w.Body.String(), tt.status, tt.contains)
		}
		if w.Code != 405 && w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q", tt.name, w.Header().Get("Content-Type"))
		}
		if w.Code == 200 && !json.Valid(w.Body.Bytes()) {
			t.Errorf("%s: invalid JSON %q", tt.name, w.Body.String())
		}
	}
	if s.Room("ops") != nil {
		t.Error("room still exists after DELETE")
	}
}
