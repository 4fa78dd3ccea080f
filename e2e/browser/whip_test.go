package browser

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// whipScript publishes the fake camera (three simulcast layers) and
// microphone with nothing but RTCPeerConnection and fetch, as RFC 9725
// describes and as OBS does: one POST with the complete offer, the answer
// in the 201 body, the session URL in Location.
const whipScript = `(async () => {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 1280, height: 720}, audio: true});
  const pc = new RTCPeerConnection();
  pc.addTransceiver(stream.getAudioTracks()[0], {direction: 'sendonly'});
  pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendonly', sendEncodings: [
    {rid: 'q', scaleResolutionDownBy: 4}, {rid: 'h', scaleResolutionDownBy: 2}, {rid: 'f'}]});
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === 'complete') return done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done();
    setTimeout(done, 3000);
  });
  const res = await fetch('/whip/%s', {method: 'POST',
    headers: {'Content-Type': 'application/sdp', 'Authorization': 'Bearer %s'}, body: pc.localDescription.sdp});
  if (res.status !== 201) throw new Error('WHIP answered ' + res.status + ': ' + await res.text());
  window.whip = {pc, location: res.headers.get('Location'), links: res.headers.get('Link') || ''};
  await pc.setRemoteDescription({type: 'answer', sdp: await res.text()});
  return window.whip.location;
})()`

// A WHIP client that is not hibiki's (a page with only RTCPeerConnection
// and fetch, no project JavaScript) publishes simulcast into a room; a bot
// there receives its audio and every layer; DELETE ends it.
func TestWHIPFromBrowser(t *testing.T) {
	requireBrowserEnv(t)
	ctx := deadline(t, 60*time.Second)
	srv := startServer(t)
	const room = "whip-browser"
	token, err := signaling.NewToken(signaling.DevAPIKey, signaling.DevAPISecret, room, "obs", "OBS", signaling.Grants{CanPublish: true}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := bot.New(bot.Config{
		URL: "ws" + strings.TrimPrefix(srv.base, "http") + "/ws", Room: room, Identity: "viewer", Subscribe: true,
		AllowIPs: []netip.Prefix{netip.MustParsePrefix(serverIP + "/24")},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = viewer.Close() })
	if err := viewer.Connect(ctx); err != nil {
		t.Fatalf("viewer: %v", err)
	}

	page := newBrowser(t, ctx, "whip")
	page.open(ctx, srv.base+"/healthz") // a plain-text page: no hibiki JavaScript at all
	var location string
	page.mustEval(ctx, fmt.Sprintf(whipScript, room, token), &location)
	if !strings.HasPrefix(location, "/whip/"+room+"/") {
		t.Fatalf("Location %q", location)
	}
	if err := viewer.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("viewer never received the WHIP tracks: %v", err)
	}
	var vsid string
	for _, tr := range viewer.RemoteTracks() {
		if tr.Info.Kind == "video" {
			vsid = tr.Info.SID
		}
	}
	for _, size := range [][2]int{{1280, 720}, {320, 180}} {
		if err := viewer.SetVideoSize(ctx, vsid, size[0], size[1], -1); err != nil {
			t.Fatal(err)
		}
		if _, err := viewer.WaitStats(ctx, func(s bot.Stats) bool {
			for _, tr := range s.Tracks {
				if tr.TrackSID == vsid && tr.Width == size[0] && tr.Height == size[1] {
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatalf("no %dx%d layer from the browser's simulcast: %v", size[0], size[1], err)
		}
	}
	var status int
	page.mustEval(ctx, `fetch(window.whip.location, {method: 'DELETE'}).then((r) => r.status)`, &status)
	if status != 200 {
		t.Fatalf("DELETE answered %d", status)
	}
	if _, err := viewer.WaitMessage(ctx, func(m *signaling.Message) bool { return m.Type == signaling.TypeParticipantLeft }); err != nil {
		t.Fatalf("viewer never saw the WHIP publisher leave: %v", err)
	}
}
