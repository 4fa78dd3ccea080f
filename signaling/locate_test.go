package signaling

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// A join for a room another node serves is answered with redirect and the
// socket closes; an unplaceable room is refused with unavailable; a room
// served here joins; a resume of a session held here never asks.
func TestJoinLocate(t *testing.T) {
	errDown := errors.New("redis: connection refused")
	var asked []string
	h := newHarness(t, func(c *Config) {
		c.Locate = func(_ context.Context, room string) (string, error) {
			asked = append(asked, room) // handlers of one socket run in turn
			switch room {
			case "elsewhere":
				return "ws://node-b.example.org/ws", nil
			case "down":
				return "", fmt.Errorf("%w: %w", ErrUnavailable, errDown)
			}
			return "", nil
		}
	})
	tests := []struct {
		room, wantType, wantCode, wantURL string
	}{
		{"elsewhere", TypeRedirect, "", "ws://node-b.example.org/ws"},
		{"down", TypeError, CodeUnavailable, ""},
		{"here", TypeJoined, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.room, func(t *testing.T) {
			c := h.connect(t)
			r := c.request(&Message{Type: TypeJoin, Token: h.token(t, tt.room, "u", AllGrants())})
			if r.Type != tt.wantType || r.Code != tt.wantCode || r.URL != tt.wantURL {
				t.Fatalf("reply = %+v, want %s %s %s", r, tt.wantType, tt.wantCode, tt.wantURL)
			}
			if tt.wantType == TypeJoined {
				return
			}
			c.expectNormalClose()
			if got := h.participants(tt.room); len(got) != 0 {
				t.Errorf("room %s holds %v", tt.room, got)
			}
		})
	}
	if len(asked) != 3 {
		t.Errorf("Locate asked for %v, want each room once", asked)
	}
}
