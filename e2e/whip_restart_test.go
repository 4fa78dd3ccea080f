package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// An ICE restart by PATCH (RFC 9725 section 4.4): the client sends new
// credentials and candidates with If-Match "*", gets the server's new ones
// and a new ETag, and media resumes on the new transport.
func TestWHIPICERestart(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	sub := newBot(ctx, t, srv, "restart", "watcher", false, true)
	// One encoding: with simulcast, pion v4.2.26 re-probes the rid streams
	// after an ICE restart and races with the running reader (rtpreceiver.go
	// receiveForRid vs readRTP); see the report of the doors branch.
	w := newWHIPPublisherLayers(t, 1)
	if code := w.post(ctx, srv.httpBase()+"/whip/restart", token(t, "restart", "encoder", publishGrant()), w.offer(whipOptions{})); code != http.StatusCreated {
		t.Fatalf("POST = %d %q", code, w.answer)
	}
	pubSID := joinedSID(ctx, t, sub, "encoder")
	if _, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return s.VideoFrames() >= 15 }); err != nil {
		t.Fatalf("frames: %v", err)
	}
	oldServerUfrag := sdpAttr(w.answer, "ice-ufrag")

	offer, err := w.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(w.pc)
	if err := w.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	local := w.pc.LocalDescription().SDP
	var cands []string
	for _, line := range strings.Split(local, "\r\n") {
		if strings.HasPrefix(line, "a=candidate:") {
			cands = append(cands, strings.TrimPrefix(line, "a="))
		}
	}
	frag := sdpFragment(sdpAttr(local, "ice-ufrag"), sdpAttr(local, "ice-pwd"), cands)
	resp, body := doHTTP(ctx, t, http.MethodPatch, srv.httpBase()+w.location, "", "application/trickle-ice-sdpfrag", frag, http.Header{"If-Match": {"*"}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/trickle-ice-sdpfrag" {
		t.Fatalf("restart PATCH = %d %q", resp.StatusCode, body)
	}
	if etag := resp.Header.Get("ETag"); etag == "" || etag == w.etag {
		t.Errorf("ETag after restart %q, before %q", etag, w.etag)
	}
	ufrag, pwd := sdpAttr(body, "ice-ufrag"), sdpAttr(body, "ice-pwd")
	if ufrag == "" || pwd == "" || ufrag == oldServerUfrag || !strings.Contains(body, "a=candidate:") {
		t.Fatalf("restart answer fragment %q (old ufrag %s)", body, oldServerUfrag)
	}
	answer := restartedAnswer(t, w.pc.RemoteDescription().SDP, body)
	if err := w.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatalf("apply restarted answer: %v", err)
	}
	if got := srv.app.SFU().Room("restart").Participant(pubSID).PublishICE().Ufrag; got != sdpAttr(local, "ice-ufrag") {
		t.Errorf("server's remote ufrag %q, want the client's new %q", got, sdpAttr(local, "ice-ufrag"))
	}
	frames := sub.Stats().VideoFrames()
	st, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return s.VideoFrames() >= frames+60 })
	if err != nil {
		t.Fatalf("media did not resume after the restart: %v", err)
	}
	// Packets in flight while the server swaps transports may be lost
	// (audio has no retransmission); video must not freeze.
	if st.Totals.Freezes > 0 || st.Totals.PacketsLost > 5 {
		t.Errorf("after the restart: %d freezes, %d packets lost", st.Totals.Freezes, st.Totals.PacketsLost)
	}
	t.Logf("ICE restart: %d packets lost", st.Totals.PacketsLost)
}

// restartedAnswer is the previous answer with the fragment's credentials
// and candidates: what WHIP says the client must assume (the non-ICE part
// of the session is unchanged).
func restartedAnswer(t *testing.T, previous, frag string) string {
	t.Helper()
	var d sdp.SessionDescription
	if err := d.UnmarshalString(previous); err != nil {
		t.Fatal(err)
	}
	var cands []string
	for _, line := range strings.Split(frag, "\r\n") {
		if strings.HasPrefix(line, "a=candidate:") {
			cands = append(cands, strings.TrimPrefix(line, "a=candidate:"))
		}
	}
	for i, m := range d.MediaDescriptions {
		attrs := m.Attributes[:0]
		for _, a := range m.Attributes {
			switch a.Key {
			case "ice-ufrag":
				a.Value = sdpAttr(frag, "ice-ufrag")
			case "ice-pwd":
				a.Value = sdpAttr(frag, "ice-pwd")
			case "candidate", "end-of-candidates":
				continue
			}
			attrs = append(attrs, a)
		}
		if i == 0 {
			for _, c := range cands {
				attrs = append(attrs, sdp.NewAttribute("candidate", c))
			}
		}
		m.Attributes = attrs
	}
	out, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
