package browser

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// faceTile is a JS expression for the face tile of the participant named name.
func faceTile(name string) string {
	return fmt.Sprintf(`document.querySelector('.tile[data-kind="face"][data-name=%q]')`, name)
}

// joinRoom opens the page in b, joined to room as name, and waits until its
// camera and microphone are published.
func joinRoom(ctx context.Context, t *testing.T, srv *server, b *browser, room, name string) {
	t.Helper()
	b.open(ctx, srv.pageURL(room, name, nil))
	b.waitFor(ctx, "camera and microphone published",
		`['cam', 'mic'].every((k) => (document.body.dataset.published || '').split(' ').includes(k))`, 20*time.Second)
}

// waitMedia waits until b decodes the track of the participant named name
// with the given source (video frames or audio samples) and returns its SID.
func waitMedia(ctx context.Context, t *testing.T, b *browser, name, source string) string {
	t.Helper()
	b.waitFor(ctx, fmt.Sprintf("%s of %s decoded", source, name), fmt.Sprintf(`(async () => {
		const r = window.hibikiRoom;
		for (const p of r.participants.values()) {
			if (p.name !== %q) continue;
			for (const t of p.tracks.values()) {
				if (t.source !== %q || !t.subscribed) continue;
				const s = await r.statsSummary();
				return s.subscribe.inbound.some((i) => i.trackSid === t.sid && (i.framesDecoded > 0 || i.totalSamplesReceived > 0));
			}
		}
		return false;
	})()`, name, source), 20*time.Second)
	return b.trackSid(ctx, name, source)
}

// checkOnNamespace asserts that every selected candidate pair of b is
// between addresses of the test's own namespace (loopback or the veth pair).
func checkOnNamespace(ctx context.Context, t *testing.T, b *browser) {
	t.Helper()
	s := b.stats(ctx)
	veth := netip.MustParsePrefix(serverIP + "/24")
	for name, tr := range map[string]*transport{"publish": s.Publish, "subscribe": s.Subscribe} {
		if tr == nil || tr.CandidatePair == nil {
			var raw any
			b.mustEval(ctx, `(async () => { const r = await window.hibikiRoom.getStats(); return [...r.`+name+`.values()].filter((s) => s.type === 'transport' || s.type.includes('candidate')); })()`, &raw)
			t.Fatalf("%s: %s connection has no selected candidate pair: %+v\n%v", b.name, name, tr, raw)
		}
		for _, hostport := range []string{tr.CandidatePair.Local, tr.CandidatePair.Remote} {
			ap, err := netip.ParseAddrPort(hostport)
			if err != nil || !(ap.Addr().IsLoopback() || veth.Contains(ap.Addr())) {
				t.Fatalf("%s: %s candidate pair %s -> %s leaves the test namespace", b.name, name,
					tr.CandidatePair.Local, tr.CandidatePair.Remote)
			}
		}
	}
}

// mediaFlows asserts over window that b decodes the video of trackSid
// without freezing and receives samples of audioSid.
func mediaFlows(ctx context.Context, t *testing.T, b *browser, videoSid, audioSid string, window time.Duration) {
	t.Helper()
	before := b.stats(ctx)
	sleep(ctx, window)
	after := b.stats(ctx)
	v0, ok0 := before.inboundOf(videoSid)
	v1, ok1 := after.inboundOf(videoSid)
	a0, ok2 := before.inboundOf(audioSid)
	a1, ok3 := after.inboundOf(audioSid)
	if !ok0 || !ok1 || !ok2 || !ok3 {
		t.Fatalf("%s: inbound streams missing (video %v/%v, audio %v/%v); before %+v; after %+v", b.name, ok0, ok1, ok2, ok3,
			before.Subscribe, after.Subscribe)
	}
	secs := window.Seconds()
	frames := v1.FramesDecoded - v0.FramesDecoded
	t.Logf("%s: %.0f s: %d frames decoded (%dx%d), %d freezes, %d audio samples, %d packets lost",
		b.name, secs, frames, v1.FrameWidth, v1.FrameHeight, v1.FreezeCount-v0.FreezeCount,
		a1.TotalSamplesReceived-a0.TotalSamplesReceived, v1.PacketsLost-v0.PacketsLost)
	if min := int64(8 * secs); frames < min {
		t.Errorf("%s: decoded %d video frames in %.0f s, want at least %d", b.name, frames, secs, min)
	}
	if f := v1.FreezeCount - v0.FreezeCount; f != 0 {
		t.Errorf("%s: video froze %d times in %.0f s", b.name, f, secs)
	}
	if min := int64(48000 * secs * 0.8); a1.TotalSamplesReceived-a0.TotalSamplesReceived < min {
		t.Errorf("%s: received %d audio samples in %.0f s, want at least %d", b.name,
			a1.TotalSamplesReceived-a0.TotalSamplesReceived, secs, min)
	}
}

// packets returns how many packets b received of trackSid so far.
func packets(ctx context.Context, t *testing.T, b *browser, trackSid string) int64 {
	t.Helper()
	in, ok := b.stats(ctx).inboundOf(trackSid)
	if !ok {
		t.Fatalf("%s: no inbound stream for %s", b.name, trackSid)
	}
	return in.PacketsReceived
}

// forwarding asserts whether packets of trackSid keep arriving at b: after
// a settling pause, over one second, more than a handful (on) or none (off).
func forwarding(ctx context.Context, t *testing.T, b *browser, trackSid string, on bool) {
	t.Helper()
	sleep(ctx, 700*time.Millisecond)
	p0 := packets(ctx, t, b, trackSid)
	sleep(ctx, 1500*time.Millisecond)
	got := packets(ctx, t, b, trackSid) - p0
	if on && got < 10 {
		t.Errorf("%s: %d packets of %s in 1.5 s after unmute, want it forwarded", b.name, got, trackSid)
	}
	if !on && got > 2 {
		t.Errorf("%s: %d packets of %s in 1.5 s while muted, want none forwarded", b.name, got, trackSid)
	}
}

func click(ctx context.Context, t *testing.T, b *browser, sel string) {
	t.Helper()
	if err := b.run(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("%s: click %s: %v", b.name, sel, err)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// TestConference runs the conference page in two Chromium browsers (and a
// bot, see bot_test.go) through one meeting: media both ways, mute, screen
// share, reload and leave. Steps share the browsers, so they run in order.
func TestConference(t *testing.T) {
	requireBrowserEnv(t)
	ctx := deadline(t, 150*time.Second)
	srv := startServer(t)
	room := "e2e-" + strings.ToLower(t.Name())
	alice := newBrowser(t, ctx, "alice")
	bob := newBrowser(t, ctx, "bob")
	joinRoom(ctx, t, srv, alice, room, "Alice")
	joinRoom(ctx, t, srv, bob, room, "Bob")

	var aliceVideo, aliceAudio, bobVideo, bobAudio string
	t.Run("each decodes the other", func(t *testing.T) {
		bobVideo = waitMedia(ctx, t, alice, "Bob", "camera")
		aliceVideo = waitMedia(ctx, t, bob, "Alice", "camera")
		bobAudio = waitMedia(ctx, t, alice, "Bob", "microphone")
		aliceAudio = waitMedia(ctx, t, bob, "Alice", "microphone")
		checkOnNamespace(ctx, t, alice)
		checkOnNamespace(ctx, t, bob)
		done := make(chan struct{})
		go func() {
			defer close(done)
			mediaFlows(ctx, t, bob, aliceVideo, aliceAudio, 10*time.Second)
		}()
		mediaFlows(ctx, t, alice, bobVideo, bobAudio, 10*time.Second)
		<-done
		alice.waitFor(ctx, "Bob's tile shows the received resolution",
			faceTile("Bob")+`.dataset.resolution !== ''`, 5*time.Second)
	})
	if t.Failed() {
		return
	}

	withBot(ctx, t, srv, room, alice, bob)

	t.Run("tile size picks the simulcast layer", func(t *testing.T) {
		width := func() int {
			in, _ := alice.stats(ctx).inboundOf(bobVideo)
			return in.FrameWidth
		}
		small := width()
		topLayer := func() (outbound, bool) {
			for _, o := range bob.stats(ctx).Publish.Outbound {
				if o.Kind == "video" && o.RID == "f" {
					return o, true
				}
			}
			return outbound{}, false
		}
		// The bot (which asked for no tile size) has just left; once the
		// server tells Bob no one needs 1280x720, its encoding goes inactive.
		bob.waitFor(ctx, "Bob's 1280x720 encoding inactive while no tile needs it", `(async () => {
			const s = await window.hibikiRoom.statsSummary();
			return s.publish.outbound.some((o) => o.rid === 'f' && !o.active);
		})()`, 10*time.Second)
		click(ctx, t, alice, `.tile[data-kind="face"][data-name="Bob"] button[data-action="large"]`)
		alice.waitFor(ctx, "Bob's camera at 1280 wide on a large tile", fmt.Sprintf(`(async () => {
			const s = await window.hibikiRoom.statsSummary();
			return s.subscribe.inbound.some((i) => i.trackSid === %q && i.frameWidth >= 1280);
		})()`, bobVideo), 15*time.Second)
		alice.waitFor(ctx, "the tile shows 1280x720", faceTile("Bob")+`.dataset.resolution === '1280x720'`, 5*time.Second)
		if f, _ := topLayer(); !f.Active {
			t.Errorf("bob's 1280x720 encoding still inactive after alice's tile grew (layersChanged not applied)")
		}
		click(ctx, t, alice, `.tile[data-kind="face"][data-name="Bob"] button[data-action="small"]`)
		alice.waitFor(ctx, "back to the smaller layer", fmt.Sprintf(`(async () => {
			const s = await window.hibikiRoom.statsSummary();
			return s.subscribe.inbound.some((i) => i.trackSid === %q && i.frameWidth > 0 && i.frameWidth <= %d);
		})()`, bobVideo, max(small, 640)), 15*time.Second)
	})

	t.Run("mute stops forwarding, unmute resumes", func(t *testing.T) {
		click(ctx, t, alice, "#btn-mic")
		bob.waitFor(ctx, "Alice's mic-muted icon", faceTile("Alice")+`.dataset.micMuted === 'true'`, 5*time.Second)
		forwarding(ctx, t, bob, aliceAudio, false)
		click(ctx, t, alice, "#btn-mic")
		bob.waitFor(ctx, "Alice's mic unmuted", faceTile("Alice")+`.dataset.micMuted === 'false'`, 5*time.Second)
		forwarding(ctx, t, bob, aliceAudio, true)

		click(ctx, t, alice, "#btn-cam")
		bob.waitFor(ctx, "Alice's camera-off icon", faceTile("Alice")+`.dataset.camOff === 'true'`, 5*time.Second)
		forwarding(ctx, t, bob, aliceVideo, false)
		click(ctx, t, alice, "#btn-cam")
		bob.waitFor(ctx, "Alice's camera back", faceTile("Alice")+`.dataset.camOff === 'false'`, 5*time.Second)
		forwarding(ctx, t, bob, aliceVideo, true)
	})

	dominantSpeaker(ctx, t, alice, bob)

	t.Run("volume and pan go through WebAudio", func(t *testing.T) {
		var got struct {
			Gain, Pan float64
			Sinks     int
		}
		alice.mustEval(ctx, fmt.Sprintf(`(async () => {
			const tile = %s;
			const set = (sel, v) => {
				const el = tile.querySelector(sel);
				el.value = String(v);
				el.dispatchEvent(new Event('input'));
			};
			set('input.volume', 0.25);
			set('input.pan', -1);
			await new Promise((r) => setTimeout(r, 300));
			const mixer = window.hibikiApp.conference.mixer;
			const chain = [...mixer.chains.values()].find((c) => c.participantSid === tile.dataset.participantSid);
			const sinks = document.querySelectorAll('#audio-sinks audio[data-participant-sid="' + tile.dataset.participantSid + '"]');
			return { gain: chain.gain.gain.value, pan: chain.pan.pan.value, sinks: [...sinks].filter((a) => a.muted && a.srcObject).length };
		})()`, faceTile("Bob")), &got)
		if got.Gain > 0.3 || got.Gain < 0.2 || got.Pan > -0.9 || got.Sinks != 1 {
			t.Errorf("Bob's audio chain: gain %.2f (want 0.25), pan %.2f (want -1), muted <audio> sinks %d (want 1)", got.Gain, got.Pan, got.Sinks)
		}
	})

	t.Run("switching the microphone keeps audio flowing", func(t *testing.T) {
		var device string
		alice.mustEval(ctx, `(() => {
			const sel = document.querySelector('#select-mic');
			const other = [...sel.options].find((o) => !o.selected);
			if (!other) return '';
			sel.value = other.value;
			sel.dispatchEvent(new Event('change'));
			return other.value;
		})()`, &device)
		if device == "" {
			t.Skip("Chromium offers one fake microphone only")
		}
		alice.waitFor(ctx, "the microphone track switched", fmt.Sprintf(
			`window.hibikiApp.conference.pubs.mic.track.getSettings().deviceId === %q`, device), 5*time.Second)
		forwarding(ctx, t, bob, aliceAudio, true)
	})

	t.Run("a second camera shows large with the face in picture-in-picture", func(t *testing.T) {
		stage := `document.querySelector('.tile[data-kind="stage"][data-participant-sid="' +
			[...window.hibikiRoom.participants.values()].find((p) => p.name === 'Alice').sid + '"]')`
		click(ctx, t, alice, "#btn-cam2")
		bob.waitFor(ctx, "a stage tile for Alice's second camera", fmt.Sprintf(`(async () => {
			const tile = %s;
			if (!tile || !tile.dataset.name.includes('camera-2') || tile.dataset.hasVideo !== 'true') return false;
			const pip = tile.querySelector('video.pip');
			if (pip.hidden || !pip.srcObject) return false;
			const s = await window.hibikiRoom.statsSummary();
			return s.subscribe.inbound.some((i) => i.trackSid === tile.dataset.trackSid && i.framesDecoded > 0);
		})()`, stage), 15*time.Second)
		click(ctx, t, alice, "#btn-cam2")
		bob.waitFor(ctx, "the stage tile goes with the second camera", stage+` === null`, 10*time.Second)
	})

	t.Run("screen share reaches the other browser", func(t *testing.T) {
		shareScreen(ctx, t, alice)
		sid := waitMedia(ctx, t, bob, "Alice", "screen")
		bob.waitFor(ctx, "a large stage tile for the share",
			fmt.Sprintf(`(() => {
				const stage = document.querySelector('.tile[data-kind="stage"][data-track-sid=%q]');
				const face = %s;
				return stage && face && stage.getBoundingClientRect().width > 1.5 * face.getBoundingClientRect().width;
			})()`, sid, faceTile("Alice")), 5*time.Second)
	})

	t.Run("reload rejoins", func(t *testing.T) {
		var before, identity string
		alice.mustEval(ctx, `[...window.hibikiRoom.participants.values()].find((p) => p.name === 'Bob').sid`, &before)
		bob.mustEval(ctx, `window.hibikiRoom.localParticipant.identity`, &identity)
		if err := bob.run(ctx, chromedp.Reload()); err != nil {
			t.Fatalf("reload: %v", err)
		}
		bob.waitFor(ctx, "rejoined after reload", `window.hibikiRoom && window.hibikiRoom.state === 'connected'
			&& (document.body.dataset.published || '').includes('cam')`, 20*time.Second)
		var again string
		bob.mustEval(ctx, `window.hibikiRoom.localParticipant.identity`, &again)
		if again != identity {
			t.Errorf("identity after reload = %q, want %q (kept in sessionStorage)", again, identity)
		}
		alice.waitFor(ctx, "Bob back as a new participant", fmt.Sprintf(`(() => {
			const bobs = [...window.hibikiRoom.participants.values()].filter((p) => p.name === 'Bob');
			return bobs.length === 1 && bobs[0].sid !== %q;
		})()`, before), 10*time.Second)
		waitMedia(ctx, t, alice, "Bob", "camera")
		waitMedia(ctx, t, bob, "Alice", "camera")
		alice.waitFor(ctx, "one tile for Bob", `document.querySelectorAll('.tile[data-kind="face"][data-name="Bob"]').length === 1`, 10*time.Second)
		bob.waitFor(ctx, "Bob's page shows Alice's video", faceTile("Alice")+`.dataset.hasVideo === 'true'`, 10*time.Second)
	})

	resumeAfterDrop(ctx, t, alice, bob)
	publishIceRestart(ctx, t, alice, bob)

	t.Run("leaving removes the tile", func(t *testing.T) {
		click(ctx, t, bob, "#btn-leave")
		bob.waitFor(ctx, "back in the lobby", `document.body.dataset.view === 'lobby'`, 5*time.Second)
		alice.waitFor(ctx, "Bob's tile removed", faceTile("Bob")+` === null`, 5*time.Second)
		alice.waitFor(ctx, "participant count drops", `!window.hibikiRoom.participants.size || [...window.hibikiRoom.participants.values()].every((p) => p.name !== 'Bob')`, 5*time.Second)
	})
}

// shareScreen shares a screen from b's page: the Share button, which calls
// getDisplayMedia. Headless Chromium may have no screen to capture; then
// the page's room publishes a canvas.captureStream() track as the "screen"
// source instead, which exercises the same path on the server and the
// receiving page.
func shareScreen(ctx context.Context, t *testing.T, b *browser) {
	t.Helper()
	click(ctx, t, b, "#btn-screen")
	var ok bool
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for wctx.Err() == nil {
		if err := b.eval(wctx, `(document.body.dataset.published || '').includes('screen')`, &ok); err == nil && ok {
			t.Logf("%s: getDisplayMedia works headless", b.name)
			return
		}
		sleep(wctx, 200*time.Millisecond)
	}
	t.Logf("%s: getDisplayMedia gave no track headless; publishing a canvas track as the screen source", b.name)
	b.mustEval(ctx, `(async () => {
		const c = document.createElement('canvas');
		c.width = 1280; c.height = 720;
		const g = c.getContext('2d');
		let n = 0;
		setInterval(() => {
			g.fillStyle = '#123'; g.fillRect(0, 0, c.width, c.height);
			g.fillStyle = '#fff'; g.font = '64px sans-serif';
			g.fillText('shared screen ' + (n++), 80, 360);
		}, 66);
		const track = c.captureStream(15).getVideoTracks()[0];
		await window.hibikiRoom.publishTrack(track, { source: 'screen', name: 'screen' });
		return true;
	})()`, nil)
}
