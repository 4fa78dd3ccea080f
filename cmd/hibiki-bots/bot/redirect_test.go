package bot

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// redirector answers every join with a redirect to target() and closes.
func redirector(t *testing.T, target func() string, joins *atomic.Int32) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		var m signaling.Message
		if c.ReadJSON(&m) != nil || m.Type != signaling.TypeJoin {
			return
		}
		joins.Add(1)
		_ = c.WriteJSON(&signaling.Message{Type: signaling.TypeRedirect, ID: m.ID, URL: target()})
		_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

func TestDialJoinRedirects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	owner := newFakeServer(t, func(*signaling.Message, []byte, func(any)) {})
	var joins atomic.Int32
	first := redirector(t, func() string { return owner.url }, &joins)
	b, err := New(Config{URL: first, Room: "r", Identity: "me", Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	conn, reply, _, err := b.dialJoin(ctx, b.cfg.URL)
	if err != nil {
		t.Fatalf("dialJoin: %v", err)
	}
	_ = conn.close()
	if reply.Type != signaling.TypeJoined || b.SignalURL() != owner.url || joins.Load() != 1 {
		t.Fatalf("reply %s, landed on %s after %d redirects; want joined on %s after 1", reply.Type, b.SignalURL(), joins.Load(), owner.url)
	}

	// A redirect loop ends after maxRedirects hops.
	var loops atomic.Int32
	var self string
	self = redirector(t, func() string { return self }, &loops)
	b2, err := New(Config{URL: self, Room: "r", Identity: "loop", Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b2.Close() }()
	if _, _, _, err := b2.dialJoin(ctx, b2.cfg.URL); !errors.Is(err, ErrProtocol) {
		t.Fatalf("redirect loop: %v, want ErrProtocol", err)
	}
	if n := loops.Load(); n != maxRedirects+1 {
		t.Fatalf("%d joins in a loop, want %d", n, maxRedirects+1)
	}
}
