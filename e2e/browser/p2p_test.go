package browser

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/sfu"
)

// p2pStatus is what a page reports about its direct connection.
type p2pStatus struct {
	State   string `json:"state"`
	Started int    `json:"started"`
	Pair    *struct {
		Local  string `json:"local"`
		Remote string `json:"remote"`
	} `json:"pair"`
	// VideoActive: the SFU publish connection's video encodings that send.
	VideoActive int `json:"videoActive"`
}

func (b *browser) p2p(ctx context.Context) p2pStatus {
	b.t.Helper()
	var st p2pStatus
	b.mustEval(ctx, `(async () => {
		const r = window.hibikiRoom;
		const s = await r.statsSummary();
		return {
			state: r.p2p.state, started: r.p2p.started,
			pair: s.p2p && s.p2p.candidatePair,
			videoActive: s.publish.outbound.filter((o) => o.kind === 'video' && o.active).length,
		};
	})()`, &st)
	return st
}

// watchFrames watches the video of the participant named name on b's page
// two ways. freezeCount and totalFreezesDuration of every inbound stream
// that carried it (the SFU's and the direct connection's; the page polls
// them, as a closed connection's stats vanish) are what WebRTC calls
// freezes. requestVideoFrameCallback on the tile's <video> counts frames
// the tile showed, whatever fed it, and its longest gap; on a loaded
// machine the compositor adds gaps of its own, so that is logged only.
func watchFrames(ctx context.Context, t *testing.T, b *browser, name string) {
	t.Helper()
	b.mustEval(ctx, fmt.Sprintf(`(() => {
		const r = window.hibikiRoom;
		const v = %s.querySelector('video.main');
		const m = { frames: 0, last: 0, maxGap: 0, streams: {}, base: {} };
		const cb = (now) => {
			if (m.last) m.maxGap = Math.max(m.maxGap, now - m.last);
			m.last = now;
			m.frames++;
			v.requestVideoFrameCallback(cb);
		};
		v.requestVideoFrameCallback(cb);
		const sidOf = () => {
			for (const p of r.participants.values()) {
				if (p.name !== %q) continue;
				for (const t of p.tracks.values()) if (t.source === 'camera') return t.sid;
			}
			return '';
		};
		const read = async (tag, pc, midToSid) => {
			if (!pc || pc.connectionState === 'closed') return;
			const sid = sidOf();
			(await pc.getStats()).forEach((s) => {
				if (s.type !== 'inbound-rtp' || s.kind !== 'video' || midToSid(s.mid) !== sid) return;
				m.streams[tag + ':' + s.ssrc] = { count: s.freezeCount || 0, secs: s.totalFreezesDuration || 0 };
			});
		};
		m.poll = async () => {
			const sess = r.p2p.session;
			await read('sfu', r.pcs.subscribe, (mid) => r.remotes.sidOfMid(mid));
			if (sess) await read(sess.id, sess.pc, (mid) => sess.peerMids.get(mid) || '');
		};
		setInterval(() => m.poll().catch(() => {}), 200);
		window.__frames = m;
		return true;
	})()`, faceTile(name), name), nil)
}

type frameWatch struct {
	Frames       int     `json:"frames"`
	MaxGap       float64 `json:"maxGap"`
	Freezes      int     `json:"freezes"`
	FreezeSecs   float64 `json:"freezeSecs"`
	Streams      int     `json:"streams"`
	LongestSince float64 `json:"longest"`
}

// frames returns what was seen since the previous call.
func frames(ctx context.Context, t *testing.T, b *browser) frameWatch {
	t.Helper()
	var w frameWatch
	b.mustEval(ctx, `(async () => {
		const m = window.__frames;
		await m.poll();
		let freezes = 0, secs = 0;
		for (const [k, s] of Object.entries(m.streams)) {
			const b = m.base[k] || { count: 0, secs: 0 };
			freezes += s.count - b.count;
			secs += s.secs - b.secs;
		}
		const out = { frames: m.frames, maxGap: m.maxGap, freezes, freezeSecs: secs, streams: Object.keys(m.streams).length };
		m.base = structuredClone(m.streams);
		m.maxGap = 0;
		m.frames = 0;
		return out;
	})()`, &w)
	return w
}

// checkFreezes asserts at most one freeze, of at most limit, over the
// watch (WebRTC's freezeCount summed over the streams that carried the
// video).
func checkFreezes(t *testing.T, b *browser, w frameWatch, limit time.Duration) {
	t.Helper()
	t.Logf("%s: %d freezes (%.0f ms in all) on %d inbound streams; the tile showed %d frames, longest gap %.0f ms",
		b.name, w.Freezes, w.FreezeSecs*1000, w.Streams, w.Frames, w.MaxGap)
	if w.Frames == 0 {
		t.Errorf("%s: the tile showed no frame", b.name)
	}
	if w.Freezes > 1 || time.Duration(w.FreezeSecs*float64(time.Second)) > limit {
		t.Errorf("%s: %d freezes of %.0f ms in all, want at most one of at most %v", b.name, w.Freezes, w.FreezeSecs*1000, limit)
	}
}

// forwarded returns the packets the server forwarded in room so far.
func forwarded(srv *server, room string) uint64 {
	r := srv.app.SFU().Room(room)
	if r == nil {
		return 0
	}
	return r.Counters().PacketsOut.Load()
}

// waitP2P waits until the server's room has an active direct session
// and both pages say so.
func waitP2P(ctx context.Context, t *testing.T, srv *server, room string, timeout time.Duration, pages ...*browser) sfu.P2PStatus {
	t.Helper()
	for _, b := range pages {
		b.waitFor(ctx, "the direct connection active", `window.hibikiRoom.p2p.state === 'active'`, timeout)
	}
	st := srv.app.SFU().Room(room).P2P()
	if !st.Active {
		t.Fatalf("the pages are direct but the server's session is %+v", st)
	}
	return st
}

// freeUDPPort returns a UDP port nothing listens on right now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	_ = c.Close()
	return port
}

// blockDirect drops traffic between the namespace's veth addresses unless
// it comes from or goes to the server's media port: the browsers reach the
// server as before but no longer each other. All of them share one
// namespace, so the server's one UDP port (rtc.udp_port) is what tells the
// two kinds of traffic apart; the server's ICE-TCP is off and page loads
// use 127.0.0.1, so all TCP between veth addresses is browser to browser.
func blockDirect(t *testing.T, serverPort int) {
	t.Helper()
	p := strconv.Itoa(serverPort)
	cmds := []string{
		"add table inet hibikip2p",
		"add chain inet hibikip2p in { type filter hook input priority 0 ; }",
		"add chain inet hibikip2p out { type filter hook output priority 0 ; }",
	}
	for _, chain := range []string{"in", "out"} {
		cmds = append(cmds,
			"add rule inet hibikip2p "+chain+" ip saddr 10.77.0.0/24 ip daddr 10.77.0.0/24 udp sport != "+p+" udp dport != "+p+" drop",
			"add rule inet hibikip2p "+chain+" ip saddr 10.77.0.0/24 ip daddr 10.77.0.0/24 meta l4proto tcp drop")
	}
	for _, c := range cmds {
		if out, err := exec.Command("nft", strings.Fields(c)...).CombinedOutput(); err != nil {
			t.Fatalf("nft %s: %v: %s (nftables is needed for this step)", c, err, out)
		}
	}
	t.Cleanup(func() { _ = exec.Command("nft", "delete", "table", "inet", "hibikip2p").Run() })
}

// TestP2P runs a two-party call in two Chromium pages: it goes direct, a
// bot joining moves everyone to the SFU without a visible freeze, the bot
// leaving brings the pair back to P2P once, and a blocked direct path
// keeps the call on the SFU. Steps share the browsers and run in order.
func TestP2P(t *testing.T) {
	requireBrowserEnv(t)
	ctx := deadline(t, 180*time.Second)
	udpPort := freeUDPPort(t)
	srv := startServer(t, func(c *app.Config) { c.RTC.UDPPort = udpPort })
	room := "e2e-" + strings.ToLower(t.Name())
	alice := newBrowser(t, ctx, "alice")
	bob := newBrowser(t, ctx, "bob")
	joinRoom(ctx, t, srv, alice, room, "Alice")
	joinRoom(ctx, t, srv, bob, room, "Bob")

	var bobVideo, bobAudio, aliceVideo, aliceAudio string
	t.Run("two browsers go direct", func(t *testing.T) {
		start := time.Now()
		waitP2P(ctx, t, srv, room, 15*time.Second, alice, bob)
		t.Logf("direct session active %v after both published", time.Since(start).Round(time.Millisecond))
		bobVideo = waitMedia(ctx, t, alice, "Bob", "camera")
		bobAudio = waitMedia(ctx, t, alice, "Bob", "microphone")
		aliceVideo = waitMedia(ctx, t, bob, "Alice", "camera")
		aliceAudio = waitMedia(ctx, t, bob, "Alice", "microphone")
		checkOnNamespace(ctx, t, alice)
		checkOnNamespace(ctx, t, bob)
		sa, sb := alice.p2p(ctx), bob.p2p(ctx)
		if sa.Pair == nil || sb.Pair == nil {
			t.Fatalf("no selected pair on the direct connection: alice %+v, bob %+v", sa, sb)
		}
		t.Logf("direct pair: alice %s -> %s, bob %s -> %s", sa.Pair.Local, sa.Pair.Remote, sb.Pair.Local, sb.Pair.Remote)
		if sa.Pair.Local != sb.Pair.Remote || sa.Pair.Remote != sb.Pair.Local {
			t.Errorf("the direct pair does not join the two browsers: alice %s->%s, bob %s->%s",
				sa.Pair.Local, sa.Pair.Remote, sb.Pair.Local, sb.Pair.Remote)
		}
		for _, hp := range []string{sa.Pair.Local, sa.Pair.Remote} {
			ap, err := netip.ParseAddrPort(hp)
			if err != nil || int(ap.Port()) == udpPort {
				t.Errorf("direct pair end %s is the server's media port %d", hp, udpPort)
			}
		}
		before := forwarded(srv, room)
		done := make(chan struct{})
		go func() {
			defer close(done)
			mediaFlows(ctx, t, bob, aliceVideo, aliceAudio, 5*time.Second)
		}()
		mediaFlows(ctx, t, alice, bobVideo, bobAudio, 5*time.Second)
		<-done
		if n := forwarded(srv, room) - before; n != 0 {
			t.Errorf("the server forwarded %d packets in the room while the pair was direct, want 0", n)
		}
		for _, b := range []*browser{alice, bob} {
			b.waitFor(ctx, "SFU video encodings paused", `(async () => {
				const s = await window.hibikiRoom.statsSummary();
				return s.publish.outbound.filter((o) => o.kind === 'video').every((o) => !o.active);
			})()`, 5*time.Second)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("mute, data and screen share while direct", func(t *testing.T) {
		before := forwarded(srv, room)
		bob.mustEval(ctx, `(() => {
			window.__data = [];
			window.hibikiRoom.data.on('message', (m) => window.__data.push(typeof m.payload === 'string' ? m.payload : new TextDecoder().decode(m.payload)));
			return true;
		})()`, nil)
		alice.waitFor(ctx, "alice's data channel open", `(() => { try { window.hibikiRoom.data.send('hello direct'); return true; } catch { return false; } })()`, 10*time.Second)
		bob.waitFor(ctx, "bob receives alice's data message", `window.__data.includes('hello direct')`, 5*time.Second)
		click(ctx, t, alice, "#btn-mic")
		bob.waitFor(ctx, "Alice's mic-muted icon", faceTile("Alice")+`.dataset.micMuted === 'true'`, 5*time.Second)
		click(ctx, t, alice, "#btn-mic")
		bob.waitFor(ctx, "Alice's mic unmuted", faceTile("Alice")+`.dataset.micMuted === 'false'`, 5*time.Second)
		shareScreen(ctx, t, alice)
		sid := waitMedia(ctx, t, bob, "Alice", "screen")
		bob.waitFor(ctx, "the share comes directly", fmt.Sprintf(
			`window.hibikiRoom.p2p.via.has(%q) && window.hibikiRoom.p2p.state === 'active'`, sid), 10*time.Second)
		if n := forwarded(srv, room) - before; n > 50 {
			t.Errorf("the server forwarded %d packets for the pair during mute and share, want (almost) none", n)
		}
		click(ctx, t, alice, "#btn-screen") // the share button now stops it
		bob.waitFor(ctx, "the share's tile goes", fmt.Sprintf(`document.querySelector('.tile[data-track-sid=%q]') === null`, sid), 10*time.Second)
	})

	var b *bot.Bot
	t.Run("a third joins: everyone on the SFU without a freeze", func(t *testing.T) {
		watchFrames(ctx, t, alice, "Bob")
		watchFrames(ctx, t, bob, "Alice")
		sleep(ctx, time.Second)
		frames(ctx, t, alice)
		frames(ctx, t, bob)
		before := forwarded(srv, room)
		var err error
		b, err = bot.New(bot.Config{
			URL:  "ws" + strings.TrimPrefix(srv.base, "http") + "/ws",
			Room: room, Identity: "Bot", Publish: true, Simulcast: true, Subscribe: true,
			AllowIPs: []netip.Prefix{netip.MustParsePrefix(serverIP + "/24")},
		})
		if err != nil {
			t.Fatalf("new bot: %v", err)
		}
		t.Cleanup(func() { _ = b.Close() })
		start := time.Now()
		if err := b.Connect(ctx); err != nil {
			t.Fatalf("bot connect: %v", err)
		}
		joined := time.Since(start)
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := b.WaitTracks(wctx, 4); err != nil {
			t.Fatalf("bot receives %d tracks, want 4: %v", b.Stats().Totals.TracksReceiving, err)
		}
		botGot := time.Since(start)
		for _, br := range []*browser{alice, bob} {
			waitMedia(ctx, t, br, "Bot", "camera")
		}
		browsersGot := time.Since(start)
		for _, br := range []*browser{alice, bob} {
			br.waitFor(ctx, "every track back on the SFU", `window.hibikiRoom.p2p.via.size === 0`, 10*time.Second)
		}
		switched := time.Since(start)
		t.Logf("bot joined in %v; bot receives the 4 browser tracks at %v; both browsers decode the bot at %v; pair fully on the SFU at %v",
			joined.Round(time.Millisecond), botGot.Round(time.Millisecond), browsersGot.Round(time.Millisecond), switched.Round(time.Millisecond))
		if browsersGot-joined > 2*time.Second || botGot-joined > 2*time.Second {
			t.Errorf("everyone receives everyone %v after the bot's join, want within 2 s", max(browsersGot, botGot)-joined)
		}
		sleep(ctx, 2*time.Second)
		checkFreezes(t, alice, frames(ctx, t, alice), time.Second)
		checkFreezes(t, bob, frames(ctx, t, bob), time.Second)
		if n := forwarded(srv, room) - before; n < 100 {
			t.Errorf("the server forwarded %d packets after the third joined, want it forwarding", n)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			mediaFlows(ctx, t, bob, aliceVideo, aliceAudio, 4*time.Second)
		}()
		mediaFlows(ctx, t, alice, bobVideo, bobAudio, 4*time.Second)
		<-done
	})
	if t.Failed() {
		return
	}

	t.Run("the third leaves: direct again, once", func(t *testing.T) {
		startedA := alice.p2p(ctx).Started
		frames(ctx, t, alice)
		frames(ctx, t, bob)
		left := time.Now()
		if err := b.Close(); err != nil {
			t.Logf("close bot: %v", err)
		}
		st := waitP2P(ctx, t, srv, room, 20*time.Second, alice, bob)
		t.Logf("direct again %v after the bot left (settle %v)", time.Since(left).Round(time.Millisecond), 5*time.Second)
		if d := time.Since(left); d < 4*time.Second {
			t.Errorf("direct again after %v, want the 5 s settle first", d)
		}
		sleep(ctx, 6*time.Second)
		if again := srv.app.SFU().Room(room).P2P(); again.Session != st.Session || !again.Active {
			t.Errorf("session changed from %s to %+v: flapping", st.Session, again)
		}
		if n := alice.p2p(ctx).Started - startedA; n != 1 {
			t.Errorf("alice saw %d direct sessions start after the bot left, want 1", n)
		}
		checkFreezes(t, alice, frames(ctx, t, alice), time.Second)
		checkFreezes(t, bob, frames(ctx, t, bob), time.Second)
		before := forwarded(srv, room)
		sleep(ctx, 2*time.Second)
		if n := forwarded(srv, room) - before; n != 0 {
			t.Errorf("the server forwarded %d packets while the pair was direct again", n)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("a blocked direct path keeps the call on the SFU", func(t *testing.T) {
		frames(ctx, t, alice)
		frames(ctx, t, bob)
		blocked := time.Now()
		blockDirect(t, udpPort)
		for _, br := range []*browser{alice, bob} {
			br.waitFor(ctx, "every track back on the SFU", `window.hibikiRoom.p2p.via.size === 0`, 10*time.Second)
		}
		t.Logf("back on the SFU %v after the direct path was blocked", time.Since(blocked).Round(time.Millisecond))
		sleep(ctx, time.Second)
		for _, br := range []*browser{alice, bob} {
			w := frames(ctx, t, br)
			t.Logf("%s: across the failure: %d freezes (%.0f ms), longest tile gap %.0f ms", br.name, w.Freezes, w.FreezeSecs*1000, w.MaxGap)
		}
		before := forwarded(srv, room)
		done := make(chan struct{})
		go func() {
			defer close(done)
			mediaFlows(ctx, t, bob, aliceVideo, aliceAudio, 5*time.Second)
		}()
		mediaFlows(ctx, t, alice, bobVideo, bobAudio, 5*time.Second)
		<-done
		if t.Failed() {
			logSubscriptions(t, srv, room, aliceVideo, bobVideo)
		}
		if n := forwarded(srv, room) - before; n < 100 {
			t.Errorf("the server forwarded %d packets after the direct path failed, want it forwarding", n)
		}
		if st := srv.app.SFU().Room(room).P2P(); st.Session != "" {
			t.Errorf("a direct session %+v right after a failure, want the backoff", st)
		}
		checkFreezes(t, alice, frames(ctx, t, alice), time.Second)
		checkFreezes(t, bob, frames(ctx, t, bob), time.Second)
	})
}

// logSubscriptions logs the server's state of every subscription to the
// given tracks: on a failure, it tells a forwarding fault (paused, no
// keyframe yet) from one in the page.
func logSubscriptions(t *testing.T, srv *server, room string, tracks ...string) {
	t.Helper()
	r := srv.app.SFU().Room(room)
	if r == nil {
		t.Logf("room %s is gone", room)
		return
	}
	for _, p := range r.Participants() {
		for _, sid := range tracks {
			if st, ok := p.SubscriptionState(sid); ok {
				t.Logf("server: %s receives %s: %+v", p.Identity(), sid, st)
			}
		}
	}
}
