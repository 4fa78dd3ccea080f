package admin

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/hibiki-sfu/hibiki/sfu"
)

func TestDrainEndpoint(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := sfu.New(sfu.DefaultRTCConfig(), sfu.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	calls := 0
	ok := New(s, "key", logger, WithDrain(func() error { calls++; return nil }))
	single := New(s, "key", logger, WithDrain(func() error { return errors.New("not in a cluster") }))
	tests := []struct {
		name     string
		h        *Handler
		method   string
		auth     string
		status   int
		contains string
	}{
		{"no key", ok, http.MethodPost, "", http.StatusUnauthorized, "admin key"},
		{"wrong method", ok, http.MethodGet, "Bearer key", http.StatusMethodNotAllowed, ""},
		{"drain", ok, http.MethodPost, "Bearer key", http.StatusAccepted, `"draining":true`},
		{"single node", single, http.MethodPost, "Bearer key", http.StatusConflict, "not in a cluster"},
		{"not wired", New(s, "key", logger), http.MethodPost, "Bearer key", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(tt.h, tt.method, "/admin/drain", tt.auth, "")
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.status, w.Body)
			}
			if tt.contains != "" && !strings.Contains(w.Body.String(), tt.contains) {
				t.Fatalf("body %q lacks %q", w.Body, tt.contains)
			}
		})
	}
	if calls != 1 {
		t.Fatalf("drain started %d times, want 1", calls)
	}
}
