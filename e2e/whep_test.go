package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/webrtc/v4"
)

// viewGrant is what a WHEP player's token holds.
func viewGrant() signaling.Grants { return signaling.Grants{CanSubscribe: true} }

// playing waits until v received audio and video frames from a keyframe on.
func playing(ctx context.Context, t *testing.T, v *whepViewer) {
	t.Helper()
	err := v.wait(ctx, func(p map[string]int, frames, keys int) bool {
		return p["audio"] >= 50 && frames >= 30 && keys >= 1
	})
	if err != nil {
		v.mu.Lock()
		defer v.mu.Unlock()
		t.Fatalf("WHEP viewer: %v (packets %v, frames %d, keyframes %d)", err, v.packets, v.frames, v.keyframes)
	}
}

// A WHEP player (plain pion, receive-only) plays a bot's stream, by
// identity and as the room's default publisher. The room does not see the
// viewers; DELETE stops forwarding to them.
func TestWHEPPlaysBot(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	pub := newBot(ctx, t, srv, "show", "pub", true, false)
	watcher := newBot(ctx, t, srv, "show", "watcher", false, true)
	if err := watcher.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	tok := token(t, "show", "viewer", viewGrant())
	byName := newWHEPViewer(t)
	start := time.Now()
	if resp, body := byName.play(ctx, srv.httpBase()+"/whep/show/pub", tok); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST = %d %q", resp.StatusCode, body)
	}
	if want := "/whep/show/" + pub.Self().SID + "/"; !strings.HasPrefix(byName.location, want) || byName.etag == "" {
		t.Errorf("Location %q (want prefix %q), ETag %q", byName.location, want, byName.etag)
	}
	if err := byName.wait(ctx, func(_ map[string]int, _, keys int) bool { return keys >= 1 }); err != nil {
		t.Fatalf("no keyframe: %v", err)
	}
	t.Logf("WHEP POST -> first video keyframe at the player: %v", time.Since(start).Round(time.Millisecond))
	playing(ctx, t, byName)
	if !onLoopback(byName.pc) {
		t.Error("WHEP media not on loopback")
	}
	byDefault := newWHEPViewer(t)
	if resp, body := byDefault.play(ctx, srv.httpBase()+"/whep/show", tok); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST without participant = %d %q", resp.StatusCode, body)
	}
	playing(ctx, t, byDefault)

	room := srv.app.SFU().Room("show")
	if n := len(room.Participants()); n != 2 {
		t.Errorf("room has %d participants, want 2 (viewers are not participants)", n)
	}
	vsid := pub.TrackSID("video")
	if n := room.Track(vsid).Subscribers(); n != 3 {
		t.Errorf("video track feeds %d subscriptions, want 3", n)
	}
	for _, v := range []*whepViewer{byName, byDefault} {
		if resp, body := doHTTP(ctx, t, http.MethodDelete, srv.httpBase()+v.location, "", "", "", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("DELETE = %d %q", resp.StatusCode, body)
		}
	}
	if n := room.Track(vsid).Subscribers(); n != 1 {
		t.Errorf("video track feeds %d subscriptions after DELETE, want 1", n)
	}
	if n := srv.app.Doors().Sessions()["whep"]; n != 0 {
		t.Errorf("%d WHEP sessions left", n)
	}
}

// A WHEP session ends with its publisher: the viewer cannot renegotiate,
// so the server closes it when the last track it carries goes away.
func TestWHEPEndsWithPublisher(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	pub := newBot(ctx, t, srv, "gone", "pub", true, false)
	watcher := newBot(ctx, t, srv, "gone", "watcher", false, true)
	if err := watcher.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	v := newWHEPViewer(t)
	if resp, body := v.play(ctx, srv.httpBase()+"/whep/gone/pub", token(t, "gone", "viewer", viewGrant())); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST = %d %q", resp.StatusCode, body)
	}
	playing(ctx, t, v)
	closed := make(chan struct{})
	v.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s.String() == "closed" || s.String() == "failed" {
			select {
			case <-closed:
			default:
				close(closed)
			}
		}
	})
	if err := pub.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatalf("the viewer's connection was not closed: %v", ctx.Err())
	}
	if resp, _ := doHTTP(ctx, t, http.MethodDelete, srv.httpBase()+v.location, "", "", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE after the publisher left = %d, want 404 (session already ended)", resp.StatusCode)
	}
}
