package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/webrtc/v4"
)

// Every refusal RFC 9725 names gets its status and a short text body, and
// the room goes on untouched: nobody joins, media keeps flowing. A stream
// key from the config is accepted in place of a token.
func TestWHIPErrorsLeaveRoomAlone(t *testing.T) {
	srv := startServer(t, func(c *app.Config) { c.WHIP.StreamKeys = map[string]string{"errs": "s3cret-key"} })
	ctx := deadline(t, 40*time.Second)
	newBot(ctx, t, srv, "errs", "pub", true, false)
	sub := newBot(ctx, t, srv, "errs", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	good := newWHIPPublisher(t).offer(whipOptions{})
	recvOnly := recvOnlyOffer(t)
	url := srv.httpBase() + "/whip/errs"
	pub := token(t, "errs", "encoder", publishGrant())
	cases := []struct {
		name, url, bearer, ctype, body string
		want                           int
	}{
		{"no token", url, "", "application/sdp", good, http.StatusUnauthorized},
		{"garbage token", url, "garbage", "application/sdp", good, http.StatusUnauthorized},
		{"wrong stream key", url, "not-the-key", "application/sdp", good, http.StatusUnauthorized},
		{"no canPublish", url, token(t, "errs", "viewer", signaling.Grants{CanSubscribe: true}), "application/sdp", good, http.StatusForbidden},
		{"token for another room", url, token(t, "elsewhere", "encoder", publishGrant()), "application/sdp", good, http.StatusForbidden},
		{"wrong content type", url, pub, "text/plain", good, http.StatusUnsupportedMediaType},
		{"not SDP", url, pub, "application/sdp", "garbage", http.StatusBadRequest},
		{"empty body", url, pub, "application/sdp", "", http.StatusBadRequest},
		{"receive-only offer", url, pub, "application/sdp", recvOnly, http.StatusUnprocessableEntity},
		{"WHEP: no media to send", srv.httpBase() + "/whep/errs/pub", token(t, "errs", "viewer", signaling.Grants{CanSubscribe: true}), "application/sdp", good, http.StatusUnprocessableEntity},
		{"WHEP: unknown publisher", srv.httpBase() + "/whep/errs/nobody", token(t, "errs", "viewer", signaling.Grants{CanSubscribe: true}), "application/sdp", recvOnly, http.StatusNotFound},
		{"WHEP: no canSubscribe", srv.httpBase() + "/whep/errs/pub", pub, "application/sdp", recvOnly, http.StatusForbidden},
	}
	for _, c := range cases {
		resp, body := doHTTP(ctx, t, http.MethodPost, c.url, c.bearer, c.ctype, c.body, nil)
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d %q, want %d", c.name, resp.StatusCode, body, c.want)
		}
		if body == "" || len(body) > 200 {
			t.Errorf("%s: body %q, want a short text", c.name, body)
		}
	}
	for _, m := range []string{http.MethodPatch, http.MethodDelete} {
		if resp, _ := doHTTP(ctx, t, m, url+"/0123456789abcdef0123456789abcdef", "", "application/trickle-ice-sdpfrag", "a=mid:0\r\n", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s unknown session = %d, want 404", m, resp.StatusCode)
		}
	}
	resp, _ := doHTTP(ctx, t, http.MethodOptions, url, "", "", "", http.Header{"Origin": {"https://example.org"}, "Access-Control-Request-Method": {"POST"}})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Accept-Post") != "application/sdp" ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("OPTIONS = %d %v", resp.StatusCode, resp.Header)
	}
	if n := len(srv.app.SFU().Room("errs").Participants()); n != 2 {
		t.Errorf("room has %d participants after refused requests, want 2", n)
	}
	for _, m := range sub.Events() {
		if m.Type == signaling.TypeParticipantJoined && m.Participant != nil && m.Participant.Identity != "pub" {
			t.Errorf("the room saw %s join", m.Participant.Identity)
		}
	}
	frames := sub.Stats().VideoFrames()
	st, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return s.VideoFrames() >= frames+30 })
	if err != nil {
		t.Fatalf("media stopped: %v", err)
	}
	assertHealthy(t, "sub", st)

	// The stream key publishes.
	w := newWHIPPublisher(t)
	if code := w.post(ctx, url, "s3cret-key", w.offer(whipOptions{})); code != http.StatusCreated {
		t.Fatalf("stream key POST = %d %q", code, w.answer)
	}
	if err := sub.WaitTracks(ctx, 4); err != nil {
		t.Fatalf("stream-key publisher's tracks: %v", err)
	}
}

// recvOnlyOffer is a valid offer with nothing to publish.
func recvOnlyOffer(t *testing.T) string {
	t.Helper()
	pc, err := pionAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}
