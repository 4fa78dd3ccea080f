package bot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// mover answers a join with joined and then, at once, the event a draining
// node sends: redirect without id, then a normal close.
func mover(t *testing.T, target string) string {
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
		_ = c.WriteJSON(&signaling.Message{Type: signaling.TypeJoined, ID: m.ID, Room: "r",
			Participant: &signaling.ParticipantInfo{SID: "PA_old", Identity: "me"}, SessionID: "old"})
		_ = c.WriteJSON(&signaling.Message{Type: signaling.TypeRedirect, URL: target, Reason: "node draining"})
		_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		_, _, _ = c.ReadMessage() // the bot's close
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

// dyingServer answers a join with joined; kill then cuts its sockets
// without a close frame and stops listening, as a crashed node would.
func dyingServer(t *testing.T) (url string, kill func()) {
	t.Helper()
	up := websocket.Upgrader{}
	dead := make(chan struct{})
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
		_ = c.WriteJSON(&signaling.Message{Type: signaling.TypeJoined, ID: m.ID, Room: "r",
			Participant: &signaling.ParticipantInfo{SID: "PA_old", Identity: "me"}, SessionID: "old"})
		<-dead
		_ = c.NetConn().Close()
	}))
	t.Cleanup(srv.Close)
	var once sync.Once
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", func() {
		once.Do(func() {
			_ = srv.Listener.Close()
			close(dead)
		})
	}
}

// A redirect event moves the bot: it joins afresh at the URL, without
// fallback URLs and without trying to resume.
func TestRedirectEventMoves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dst := newFakeServer(t, func(*signaling.Message, []byte, func(any)) {})
	b, err := New(Config{URL: mover(t, dst.url), Room: "r", Identity: "me", Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	if err := b.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	st, err := b.WaitStats(ctx, func(s Stats) bool { return s.Moves == 1 && s.State == StateJoined })
	if err != nil {
		t.Fatalf("no move: %v (stats %+v)", err, st)
	}
	if b.SignalURL() != dst.url || b.SessionID() != "sess" || st.Reconnects != 0 {
		t.Fatalf("after the move: url %s, session %s, reconnects %d; want %s, sess, 0", b.SignalURL(), b.SessionID(), st.Reconnects, dst.url)
	}
}

// A node that vanishes (its address refuses connections) is left for a
// fallback URL; without one the bot ends once the resume window passed.
func TestNodeGoneFallback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, fallback := range []bool{true, false} {
		deadURL, kill := dyingServer(t)
		alive := newFakeServer(t, func(*signaling.Message, []byte, func(any)) {})
		cfg := Config{URL: deadURL, Room: "r", Identity: "me", Logger: discardLogger(), ResumeWindow: 300 * time.Millisecond}
		if fallback {
			cfg.FallbackURLs = []string{alive.url}
		}
		b, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Connect(ctx); err != nil {
			t.Fatalf("connect: %v", err)
		}
		kill()
		if fallback {
			if _, err := b.WaitStats(ctx, func(s Stats) bool { return s.Moves == 1 && s.State == StateJoined }); err != nil {
				t.Fatalf("no move to the fallback: %v", err)
			}
			if b.SignalURL() != alive.url {
				t.Fatalf("moved to %s, want %s", b.SignalURL(), alive.url)
			}
		} else {
			select {
			case <-b.Done():
			case <-ctx.Done():
				t.Fatal("bot without a fallback still running")
			}
			if b.Stats().Moves != 0 || b.Err() == nil {
				t.Fatalf("moves %d, err %v; want 0 and an error", b.Stats().Moves, b.Err())
			}
		}
		_ = b.Close()
	}
}
