package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/webrtc/v4"
)

// publishGrant is what a WHIP encoder's token holds.
func publishGrant() signaling.Grants { return signaling.Grants{CanPublish: true} }

// joinedSID waits until b saw a participant with identity join.
func joinedSID(ctx context.Context, t *testing.T, b *bot.Bot, identity string) string {
	t.Helper()
	m, err := b.WaitMessage(ctx, func(m *signaling.Message) bool {
		return m.Type == signaling.TypeParticipantJoined && m.Participant != nil && m.Participant.Identity == identity
	})
	if err != nil {
		t.Fatalf("participantJoined for %s not seen: %v", identity, err)
	}
	return m.Participant.SID
}

// A WHIP client (plain pion, VP8 simulcast + Opus) publishes; a bot in the
// room sees it join, receives both tracks from a keyframe on, and can
// switch to the top simulcast layer.
func TestWHIPPublisherReachesBot(t *testing.T) {
	srv := startServer(t, func(c *app.Config) {
		c.RTC.ICEServers = []app.ICEServer{{URLs: []string{"stun:127.0.0.1:3478"}}}
	})
	ctx := deadline(t, 40*time.Second)
	sub := newBot(ctx, t, srv, "whip", "watcher", false, true)
	w := newWHIPPublisher(t)
	offer := w.offer(whipOptions{})
	start := time.Now()
	if code := w.post(ctx, srv.httpBase()+"/whip/whip", token(t, "whip", "encoder", publishGrant()), offer); code != http.StatusCreated {
		t.Fatalf("POST = %d %q", code, w.answer)
	}
	answered := time.Since(start)
	h := w.resp.Header
	if !strings.HasPrefix(w.location, "/whip/whip/") || w.etag == "" || h.Get("Content-Type") != "application/sdp" {
		t.Errorf("headers: Location %q ETag %q Content-Type %q", w.location, w.etag, h.Get("Content-Type"))
	}
	if links := h.Values("Link"); len(links) != 1 || links[0] != `<stun:127.0.0.1:3478>; rel="ice-server"` {
		t.Errorf("Link = %q", links)
	}
	if !strings.Contains(w.answer, "a=candidate:") {
		t.Error("answer carries no candidates")
	}
	pubSID := joinedSID(ctx, t, sub, "encoder")
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	st, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return s.VideoFrames() >= 60 })
	if err != nil {
		t.Fatalf("frames: %v", err)
	}
	assertSimulcastHealthy(t, "watcher", st, 2)
	var vsid string
	for _, tr := range st.Tracks {
		if tr.ParticipantSID != pubSID {
			t.Errorf("track %s from %s, want the WHIP publisher %s", tr.TrackSID, tr.ParticipantSID, pubSID)
		}
		if tr.Kind == "video" {
			vsid = tr.TrackSID
			t.Logf("WHIP POST answered in %v; POST -> first video frame at the bot %v", answered.Round(time.Millisecond), tr.FirstFrameAt.Sub(start).Round(time.Millisecond))
		}
	}
	info := srv.app.SFU().Room("whip").Track(vsid).Info()
	if !info.Simulcast {
		t.Errorf("server sees no simulcast on the WHIP video track: %+v", info)
	}
	if err := sub.SetVideoSize(ctx, vsid, 1280, 720, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.WaitStats(ctx, func(bot.Stats) bool { s, _ := trackStats(sub, vsid); return s.Width == 1280 }); err != nil {
		t.Errorf("no switch to the 1280x720 layer: %v", err)
	}
	if !onLoopback(w.pc) {
		t.Error("WHIP media not on loopback")
	}
}

// DELETE on the session URL makes the participant leave; the URL is gone
// afterwards.
func TestWHIPDeleteLeaves(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	sub := newBot(ctx, t, srv, "bye", "watcher", false, true)
	w := newWHIPPublisher(t)
	if code := w.post(ctx, srv.httpBase()+"/whip/bye", token(t, "bye", "encoder", publishGrant()), w.offer(whipOptions{})); code != http.StatusCreated {
		t.Fatalf("POST = %d %q", code, w.answer)
	}
	pubSID := joinedSID(ctx, t, sub, "encoder")
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	url := srv.httpBase() + w.location
	if resp, body := doHTTP(ctx, t, http.MethodDelete, url, "", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE = %d %q", resp.StatusCode, body)
	}
	if _, err := sub.WaitMessage(ctx, func(m *signaling.Message) bool {
		return m.Type == signaling.TypeParticipantLeft && m.ParticipantSID == pubSID
	}); err != nil {
		t.Fatalf("participantLeft not seen: %v", err)
	}
	if resp, _ := doHTTP(ctx, t, http.MethodDelete, url, "", "", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("second DELETE = %d, want 404", resp.StatusCode)
	}
	if n := srv.app.Doors().Sessions()["whip"]; n != 0 {
		t.Errorf("%d WHIP sessions left", n)
	}
}

// An offer without candidates, then the client's candidates by PATCH:
// 204 each, media flows. Bad PATCHes get their RFC status and change
// nothing.
func TestWHIPTricklePatch(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	sub := newBot(ctx, t, srv, "trickle", "watcher", false, true)
	w := newWHIPPublisher(t)
	gathered := make(chan struct{})
	var cands []string
	w.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			close(gathered)
			return
		}
		cands = append(cands, c.ToJSON().Candidate)
	})
	offer := w.offer(whipOptions{noCandidates: true})
	if strings.Contains(offer, "a=candidate:") {
		t.Fatal("offer carries candidates")
	}
	if code := w.post(ctx, srv.httpBase()+"/whip/trickle", token(t, "trickle", "encoder", publishGrant()), offer); code != http.StatusCreated {
		t.Fatalf("POST = %d %q", code, w.answer)
	}
	<-gathered
	if len(cands) == 0 {
		t.Fatal("client gathered no candidates")
	}
	url := srv.httpBase() + w.location
	local := w.pc.LocalDescription().SDP
	body := sdpFragment(sdpAttr(local, "ice-ufrag"), sdpAttr(local, "ice-pwd"), cands)
	ifMatch := http.Header{"If-Match": {w.etag}}
	if resp, b := doHTTP(ctx, t, http.MethodPatch, url, "", "application/trickle-ice-sdpfrag", body, ifMatch); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH = %d %q", resp.StatusCode, b)
	}
	cases := []struct {
		name, url, ctype, body string
		hdr                    http.Header
		want                   int
	}{
		{"wrong etag", url, "application/trickle-ice-sdpfrag", body, http.Header{"If-Match": {`"nope"`}}, http.StatusPreconditionFailed},
		{"wrong content type", url, "application/sdp", body, nil, http.StatusUnsupportedMediaType},
		{"garbage candidate", url, "application/trickle-ice-sdpfrag", "a=mid:0\r\na=candidate:garbage\r\n", nil, http.StatusBadRequest},
		{"unknown session", srv.httpBase() + "/whip/trickle/00000000000000000000000000000000", "application/trickle-ice-sdpfrag", body, nil, http.StatusNotFound},
		{"other room", strings.Replace(url, "/whip/trickle/", "/whip/other/", 1), "application/trickle-ice-sdpfrag", body, nil, http.StatusNotFound},
	}
	for _, c := range cases {
		if resp, b := doHTTP(ctx, t, http.MethodPatch, c.url, "", c.ctype, c.body, c.hdr); resp.StatusCode != c.want {
			t.Errorf("%s: PATCH = %d %q, want %d", c.name, resp.StatusCode, b, c.want)
		}
	}
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	st, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return s.VideoFrames() >= 30 })
	if err != nil {
		t.Fatalf("frames: %v", err)
	}
	assertSimulcastHealthy(t, "watcher", st, 2)
}

// sdpAttr returns the first value of attribute name in s.
func sdpAttr(s, name string) string {
	i := strings.Index(s, "a="+name+":")
	if i < 0 {
		return ""
	}
	v := s[i+len(name)+3:]
	return v[:strings.IndexAny(v, "\r\n")]
}

// sdpFragment builds an RFC 8840 fragment for the first (bundled) section.
func sdpFragment(ufrag, pwd string, candidates []string) string {
	var b strings.Builder
	b.WriteString("a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:" + pwd + "\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n")
	for _, c := range candidates {
		b.WriteString("a=" + c + "\r\n")
	}
	b.WriteString("a=end-of-candidates\r\n")
	return b.String()
}

// assertSimulcastHealthy is assertHealthy for a simulcast publisher: the
// forwarder starts on the first layer that arrives and switches up on the
// wanted layer's keyframe, which may cut the frame in flight (main's
// simulcast tests allow one partial frame per switch); beyond that,
// nothing may be lost or freeze.
func assertSimulcastHealthy(t *testing.T, name string, s bot.Stats, switches uint64) {
	t.Helper()
	for _, tr := range s.Tracks {
		if tr.Packets == 0 || !tr.FirstFrameKeyframe || tr.Lost > 0 || tr.Freezes > 0 || tr.Incomplete > 0 || tr.SwitchCuts > switches {
			t.Errorf("%s: track %s (%s): packets %d, first key %v, lost %d, freezes %d (%v), incomplete %d, switch cuts %d (allowed %d)",
				name, tr.TrackSID, tr.Kind, tr.Packets, tr.FirstFrameKeyframe, tr.Lost, tr.Freezes, tr.FreezeTime, tr.Incomplete, tr.SwitchCuts, switches)
		}
	}
}
