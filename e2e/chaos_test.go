package e2e

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// Chaos: clients vanish without a goodbye, sockets drop, garbage reaches
// the media port, a subscriber stops reading. The room must keep serving
// everyone else (their video keeps coming, no freeze) and clean up within
// its timeouts; each test logs the time it measured (docs/chaos.md).

const chaosWindow = 2 * time.Second // resume window of these tests

func chaosServer(t *testing.T, tweak func(*app.Config)) *server {
	return startServer(t, func(c *app.Config) {
		c.Signaling.ResumeWindow = chaosWindow
		if tweak != nil {
			tweak(c)
		}
	})
}

// startBot connects a bot with a custom config (URL, media and a token for
// room are filled in).
func startBot(ctx context.Context, t *testing.T, srv *server, room string, cfg bot.Config) *bot.Bot {
	t.Helper()
	cfg.URL, cfg.Room, cfg.Media = srv.url, room, clips(t)
	b, err := bot.New(cfg)
	if err != nil {
		t.Fatalf("bot %s: %v", cfg.Identity, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Connect(ctx); err != nil {
		t.Fatalf("bot %s connect: %v", cfg.Identity, err)
	}
	return b
}

// framesFrom counts the video frames a bot received from one publisher.
func framesFrom(s bot.Stats, pubSID string) uint64 {
	var n uint64
	for _, tr := range s.Tracks {
		if tr.Kind == "video" && tr.ParticipantSID == pubSID {
			n += tr.Frames
		}
	}
	return n
}

// keepsServing waits for 1 s more of video (30 frames) from pub at sub and
// checks those tracks stayed healthy. One second fits in a resume window
// of 2 s even on a loaded machine (60 frames did not always).
func keepsServing(ctx context.Context, t *testing.T, name string, sub *bot.Bot, pub string) {
	t.Helper()
	from := framesFrom(sub.Stats(), pub)
	st, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return framesFrom(s, pub) >= from+30 })
	if err != nil {
		t.Fatalf("%s: video from %s stopped: %v", name, pub, err)
	}
	for _, tr := range st.Tracks {
		if tr.ParticipantSID == pub && (tr.Freezes > 0 || tr.Incomplete > 0) {
			t.Errorf("%s: track %s of %s: %d freezes, %d incomplete frames", name, tr.TrackSID, pub, tr.Freezes, tr.Incomplete)
		}
	}
}

// waitLeft waits until sub sees sid leave and returns when that happened.
func waitLeft(ctx context.Context, t *testing.T, sub *bot.Bot, sid string) time.Time {
	t.Helper()
	if _, err := sub.WaitMessage(ctx, func(m *signaling.Message) bool {
		return m.Type == signaling.TypeParticipantLeft && m.ParticipantSID == sid
	}); err != nil {
		t.Fatalf("participantLeft %s not seen: %v", sid, err)
	}
	return time.Now()
}

func roomSize(srv *server, room string) int {
	if r := srv.app.SFU().Room(room); r != nil {
		return len(r.Participants())
	}
	return 0
}

// A publisher whose client dies (socket and peer connections closed, no
// leave) leaves the room after the resume window; the other publisher's
// media reaches the subscriber throughout.
func TestChaosPublisherKilled(t *testing.T) {
	srv := chaosServer(t, nil)
	ctx := deadline(t, 60*time.Second)
	victim := newBot(ctx, t, srv, "kill-pub", "victim", true, false)
	other := newBot(ctx, t, srv, "kill-pub", "other", true, false)
	sub := newBot(ctx, t, srv, "kill-pub", "sub", false, true)
	if err := sub.WaitTracks(ctx, 4); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := victim.Kill(); err != nil {
		t.Logf("kill: %v", err)
	}
	keepsServing(ctx, t, "sub", sub, other.Self().SID)
	left := waitLeft(ctx, t, sub, victim.Self().SID)
	t.Logf("killed publisher removed after %v (resume window %v)", left.Sub(start).Round(time.Millisecond), chaosWindow)
	if d := left.Sub(start); d < chaosWindow || d > chaosWindow+3*time.Second {
		t.Errorf("removed after %v, want the resume window %v plus detection", d, chaosWindow)
	}
	if _, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return s.Totals.TracksReceiving == 2 }); err != nil {
		t.Errorf("victim's tracks still received: %v", err)
	}
	keepsServing(ctx, t, "sub after removal", sub, other.Self().SID)
	if n := roomSize(srv, "kill-pub"); n != 2 {
		t.Errorf("room has %d participants, want 2", n)
	}
}

// A subscriber killed mid-stream is removed after the resume window and
// the publisher goes on serving the other subscriber.
func TestChaosSubscriberKilled(t *testing.T) {
	srv := chaosServer(t, nil)
	ctx := deadline(t, 60*time.Second)
	pub := newBot(ctx, t, srv, "kill-sub", "pub", true, false)
	victim := newBot(ctx, t, srv, "kill-sub", "victim", false, true)
	healthy := newBot(ctx, t, srv, "kill-sub", "healthy", false, true)
	for _, b := range []*bot.Bot{victim, healthy} {
		if err := b.WaitTracks(ctx, 2); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	_ = victim.Kill()
	keepsServing(ctx, t, "healthy", healthy, pub.Self().SID)
	left := waitLeft(ctx, t, healthy, victim.Self().SID)
	t.Logf("killed subscriber removed after %v (resume window %v)", left.Sub(start).Round(time.Millisecond), chaosWindow)
	for _, p := range srv.app.SFU().Room("kill-sub").Participants() {
		if p.Identity() == "victim" {
			t.Error("victim still in the room")
		}
	}
}

// A dropped signaling socket is resumed: the participant stays (others
// see no participantLeft), media flows on and the bot is back quickly.
func TestChaosSignalingDropResumed(t *testing.T) {
	srv := chaosServer(t, nil)
	ctx := deadline(t, 60*time.Second)
	pub := newBot(ctx, t, srv, "drop", "pub", true, false)
	sub := newBot(ctx, t, srv, "drop", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*bot.Bot{pub, sub} {
		start := time.Now()
		b.DropSignal()
		if _, err := b.WaitStats(ctx, func(s bot.Stats) bool { return s.Reconnects >= 1 }); err != nil {
			t.Fatalf("%s did not resume: %v", b.Self().Identity, err)
		}
		t.Logf("%s resumed after %v", b.Self().Identity, time.Since(start).Round(time.Millisecond))
		keepsServing(ctx, t, "sub", sub, pub.Self().SID)
	}
	for _, m := range sub.Events() {
		if m.Type == signaling.TypeParticipantLeft {
			t.Errorf("participantLeft %s during a resumed drop", m.ParticipantSID)
		}
	}
	if n := roomSize(srv, "drop"); n != 2 {
		t.Errorf("room has %d participants, want 2", n)
	}
}

// A client whose socket drops and who cannot come back (every new dial
// fails) keeps its media flowing during the window, then leaves.
func TestChaosSignalingDropWindowExpires(t *testing.T) {
	srv := chaosServer(t, nil)
	ctx := deadline(t, 60*time.Second)
	var cut atomic.Bool
	errCut := errors.New("network cut")
	dialer := &net.Dialer{}
	pub := startBot(ctx, t, srv, "expire", bot.Config{
		Identity: "pub", Publish: true,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if cut.Load() {
				return nil, errCut
			}
			return dialer.DialContext(ctx, network, addr)
		},
	})
	sub := newBot(ctx, t, srv, "expire", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatal(err)
	}
	cut.Store(true)
	start := time.Now()
	pub.DropSignal()
	keepsServing(ctx, t, "sub during the window", sub, pub.Self().SID)
	left := waitLeft(ctx, t, sub, pub.Self().SID)
	t.Logf("unresumed participant removed after %v (resume window %v)", left.Sub(start).Round(time.Millisecond), chaosWindow)
	if d := left.Sub(start); d < chaosWindow || d > chaosWindow+2*time.Second {
		t.Errorf("removed after %v, want about the window %v", d, chaosWindow)
	}
	if n := roomSize(srv, "expire"); n != 1 {
		t.Errorf("room has %d participants, want 1", n)
	}
}

// Garbage on the one media port (random bytes, STUN, DTLS and RTP
// look-alikes from many source ports) hurts nobody.
func TestChaosGarbageUDP(t *testing.T) {
	var port int // the one media port testConfig picked
	srv := chaosServer(t, func(c *app.Config) { port = c.RTC.UDPPort })
	if port == 0 {
		t.Fatal("no free loopback UDP port for the server's media")
	}
	ctx := deadline(t, 60*time.Second)
	pub := newBot(ctx, t, srv, "garbage", "pub", true, false)
	sub := newBot(ctx, t, srv, "garbage", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatal(err)
	}
	goroutines := runtime.NumGoroutine()
	done := make(chan int)
	gctx, stop := context.WithCancel(ctx)
	go func() { done <- sprayGarbage(gctx, port) }()
	keepsServing(ctx, t, "sub under garbage", sub, pub.Self().SID)
	keepsServing(ctx, t, "sub under garbage", sub, pub.Self().SID)
	stop()
	sent := <-done
	t.Logf("%d garbage datagrams sent; goroutines %d before, %d during", sent, goroutines, runtime.NumGoroutine())
	if g := runtime.NumGoroutine(); g > goroutines+50 {
		t.Errorf("garbage grew the goroutines from %d to %d", goroutines, g)
	}
}

// sprayGarbage sends bounded garbage at the media port until ctx ends and
// returns how many datagrams went out: at most 4000 a second.
func sprayGarbage(ctx context.Context, port int) int {
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	rng := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for sent < 200000 {
		select {
		case <-ctx.Done():
			return sent
		case <-tick.C:
		}
		conn, err := net.DialUDP("udp4", nil, dst) // a new source port per burst
		if err != nil {
			continue
		}
		for range 20 {
			_, _ = conn.Write(garbageDatagram(rng))
			sent++
		}
		_ = conn.Close()
	}
	return sent
}

func garbageDatagram(rng *rand.Rand) []byte {
	b := make([]byte, 20+rng.IntN(1200))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	switch rng.IntN(4) {
	case 0: // STUN binding request with the magic cookie and a random username
		b[0], b[1], b[4], b[5], b[6], b[7] = 0x00, 0x01, 0x21, 0x12, 0xa4, 0x42
		b[2], b[3] = byte((len(b)-20)>>8), byte(len(b)-20)
	case 1: // DTLS handshake record
		b[0], b[1], b[2] = 22, 0xfe, 0xfd
	case 2: // RTP / RTCP
		b[0] = 0x80 | b[0]&0x3f
	}
	return b
}

// A subscriber that stops reading its media costs the server no memory
// and no one else anything.
func TestChaosStalledSubscriberMemory(t *testing.T) {
	srv := chaosServer(t, nil)
	ctx := deadline(t, 60*time.Second)
	pub := newBot(ctx, t, srv, "stall-mem", "pub", true, false)
	stalled := newBot(ctx, t, srv, "stall-mem", "stalled", false, true)
	healthy := newBot(ctx, t, srv, "stall-mem", "healthy", false, true)
	for _, b := range []*bot.Bot{stalled, healthy} {
		if err := b.WaitTracks(ctx, 2); err != nil {
			t.Fatal(err)
		}
	}
	before := srv.app.Health()
	stalled.StopReading()
	for range 3 { // 6 s
		keepsServing(ctx, t, "healthy", healthy, pub.Self().SID)
	}
	after := srv.app.Health()
	t.Logf("process heap %d -> %d KiB, goroutines %d -> %d over 6 s of a stalled subscriber",
		before.HeapBytes>>10, after.HeapBytes>>10, before.Goroutines, after.Goroutines)
	if after.HeapBytes > before.HeapBytes+32<<20 {
		t.Errorf("heap grew by %d MiB", (after.HeapBytes-before.HeapBytes)>>20)
	}
	if n := roomSize(srv, "stall-mem"); n != 3 {
		t.Errorf("room has %d participants, want 3", n)
	}
}
