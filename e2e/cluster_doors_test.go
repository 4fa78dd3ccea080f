package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster/redistest"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
)

// redirectedFrom returns the redirect that led to resp (nil when the
// request was answered where it was sent), checking that it is a 307 with
// the CORS headers a page on another origin needs to follow it.
func redirectedFrom(t *testing.T, resp *http.Response) *http.Response {
	t.Helper()
	prev := resp.Request.Response
	if prev == nil {
		return nil
	}
	if prev.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("redirect status %d, want 307", prev.StatusCode)
	}
	if prev.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(prev.Header.Get("Access-Control-Expose-Headers"), "Location") {
		t.Errorf("redirect without CORS headers: %v", prev.Header)
	}
	return prev
}

// A WHIP encoder and a WHEP player sent to the node that does not serve
// the room follow a 307 to the one that does (the room was placed there by
// a bot's join) and work there; a player that reached the serving node
// gets its 201 directly.
func TestClusterWHIPWHEPRedirect(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startNode(t, rs.Addr(), "a"), startNode(t, rs.Addr(), "b")
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })
	sub := clusterBot(ctx, t, a.url, "show", "watcher", false, true)
	if h, err := b.app.Cluster().Holder(ctx, "show"); err != nil || h != "a" {
		t.Fatalf("holder of show = %q, %v; want a", h, err)
	}

	w := newWHIPPublisher(t)
	start := time.Now()
	if code := w.post(ctx, b.httpBase()+"/whip/show", token(t, "show", "encoder", publishGrant()), w.offer(whipOptions{})); code != http.StatusCreated {
		t.Fatalf("WHIP POST via b = %d %q", code, w.answer)
	}
	answered := time.Since(start)
	prev := redirectedFrom(t, w.resp)
	if prev == nil || prev.Header.Get("Location") != a.httpBase()+"/whip/show" {
		t.Fatalf("WHIP POST via b was not redirected to a: %v", prev)
	}
	if got := w.resp.Request.URL.Host; "http://"+got != a.httpBase() {
		t.Fatalf("WHIP session made on %s, want a %s", got, a.httpBase())
	}
	if b.app.SFU().Room("show") != nil || b.app.Doors().Sessions()["whip"] != 0 {
		t.Fatal("b holds the room or a WHIP session")
	}
	joinedSID(ctx, t, sub, "encoder")
	st, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return s.Totals.TracksReceiving >= 2 && s.VideoFrames() >= 60 })
	if err != nil {
		t.Fatalf("watcher on a: %v (stats %+v)", err, st.Totals)
	}
	assertHealthy(t, "watcher", st)
	t.Logf("WHIP POST via b -> 307 -> 201 from a in %v", answered.Round(time.Millisecond))

	viaB := newWHEPViewer(t)
	resp, body := viaB.play(ctx, b.httpBase()+"/whep/show", token(t, "show", "player-b", viewGrant()))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHEP POST via b = %d %q", resp.StatusCode, body)
	}
	if prev := redirectedFrom(t, resp); prev == nil || prev.Header.Get("Location") != a.httpBase()+"/whep/show" {
		t.Fatalf("WHEP POST via b was not redirected to a: %v", prev)
	}
	playing(ctx, t, viaB)

	direct := newWHEPViewer(t)
	resp, body = direct.play(ctx, a.httpBase()+"/whep/show", token(t, "show", "player-a", viewGrant()))
	if resp.StatusCode != http.StatusCreated || redirectedFrom(t, resp) != nil {
		t.Fatalf("WHEP POST to the serving node = %d %q (redirected: %v), want 201 at once", resp.StatusCode, body, resp.Request.Response != nil)
	}
	if n := a.app.Doors().Sessions()["whep"]; n != 2 {
		t.Errorf("a holds %d WHEP sessions, want 2", n)
	}
}

// Without Redis a node serves WHIP for the rooms open on it and refuses
// the others with 503 and Retry-After: it cannot tell where they live.
func TestClusterWHIPWithoutRedis(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startNode(t, rs.Addr(), "a"), startNode(t, rs.Addr(), "b")
	ctx := deadline(t, 30*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })
	clusterBot(ctx, t, a.url, "open", "watcher", false, true)
	rs.Stop()

	for _, tt := range []struct {
		srv  *server
		room string
	}{{a, "fresh"}, {b, "open"}} {
		resp, body := doHTTP(ctx, t, http.MethodPost, tt.srv.httpBase()+"/whip/"+tt.room,
			token(t, tt.room, "encoder", publishGrant()), "application/sdp", "v=0\r\n", nil)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(body, "retry") || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("POST %s/whip/%s without Redis = %d %q %v, want 503 with Retry-After", tt.srv.httpBase(), tt.room, resp.StatusCode, body, resp.Header)
		}
	}
	w := newWHIPPublisher(t)
	if code := w.post(ctx, a.httpBase()+"/whip/open", token(t, "open", "encoder", publishGrant()), w.offer(whipOptions{})); code != http.StatusCreated {
		t.Fatalf("WHIP POST for the room a serves, without Redis = %d %q", code, w.answer)
	}
	if redirectedFrom(t, w.resp) != nil {
		t.Fatal("redirected without Redis")
	}
}
