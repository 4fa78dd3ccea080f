package browser

import (
	"context"
	"testing"
)

// withBot: a pion bot joins the room (placeholder until the bot package lands).
func withBot(ctx context.Context, t *testing.T, srv *server, room string, alice, bob *browser) {
	t.Helper()
	_ = ctx
	_ = srv
	_ = room
	_, _ = alice, bob
}
