package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/sfu"
)

// newSimulcastPublisher connects a bot sending three VP8 layers and returns
// it with its video track SID.
func newSimulcastPublisher(ctx context.Context, t *testing.T, srv *server, room string) (*bot.Bot, string) {
	t.Helper()
	b, err := bot.New(bot.Config{URL: srv.url, Room: room, Identity: "pub", Publish: true, Simulcast: true, Media: clips(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	return b, b.TrackSID("video")
}

// waitSize waits until the subscriber's track shows keyframes of w x h.
func waitSize(ctx context.Context, b *bot.Bot, sid string, w, h int) (bot.TrackStats, error) {
	var last bot.TrackStats
	_, err := b.WaitStats(ctx, func(bot.Stats) bool {
		last, _ = trackStats(b, sid)
		return last.Width == w && last.Height == h
	})
	return last, err
}

// Each subscriber gets the smallest layer covering its tile.
func TestSimulcastLayerFollowsTileSize(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 40*time.Second)
	_, vsid := newSimulcastPublisher(ctx, t, srv, "sim")
	cases := []struct {
		tileW, tileH int
		wantW, wantH int
	}{
		{160, 90, 320, 180},
		{320, 180, 320, 180},
		{480, 270, 640, 360},
		{1280, 720, 1280, 720},
		{1920, 1080, 1280, 720},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("tile %dx%d", c.tileW, c.tileH), func(t *testing.T) {
			sub := newBot(ctx, t, srv, "sim", fmt.Sprintf("sub-%dx%d", c.tileW, c.tileH), false, true)
			if err := sub.WaitTracks(ctx, 2); err != nil {
				t.Fatalf("tracks: %v", err)
			}
			if err := sub.SetVideoSize(ctx, vsid, c.tileW, c.tileH, -1); err != nil {
				t.Fatalf("setVideoSize: %v", err)
			}
			st, err := waitSize(ctx, sub, vsid, c.wantW, c.wantH)
			if err != nil {
				t.Fatalf("never got %dx%d (last %dx%d): %v", c.wantW, c.wantH, st.Width, st.Height, err)
			}
			// The switch from the default layer may cut the old layer's
			// last frame short (its tail arrives after the new layer's
			// keyframe); from then on every frame must be complete.
			before := st
			var after bot.TrackStats
			if _, err := sub.WaitStats(ctx, func(bot.Stats) bool {
				after, _ = trackStats(sub, vsid)
				return after.Frames >= before.Frames+30
			}); err != nil {
				t.Fatalf("frames stopped: %v", err)
			}
			if after.Incomplete != 0 || after.SwitchCuts != before.SwitchCuts || after.Lost != 0 || after.Freezes != 0 || !after.FirstFrameKeyframe {
				t.Errorf("after settling: incomplete %d, switch cuts %d -> %d, lost %d, freezes %d, first key %v",
					after.Incomplete, before.SwitchCuts, after.SwitchCuts, after.Lost, after.Freezes, after.FirstFrameKeyframe)
			}
		})
	}
}

// A subscriber changing its wanted size every 2 s sees one continuous
// stream: no sequence gap (no loss counted), every frame decodable, no
// freeze, and the sizes it asked for.
func TestSimulcastSwitchesAreSeamless(t *testing.T) {
	if testing.Short() {
		t.Skip("20 s of switching")
	}
	srv := startServer(t, nil)
	ctx := deadline(t, 60*time.Second)
	_, vsid := newSimulcastPublisher(ctx, t, srv, "switch")
	sub := newBot(ctx, t, srv, "switch", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	sizes := [][2]int{{320, 180}, {1280, 720}, {640, 360}, {320, 180}, {640, 360}, {1280, 720}, {320, 180}, {1280, 720}, {640, 360}, {320, 180}}
	var latencies []time.Duration
	for _, s := range sizes {
		step, cancel := context.WithTimeout(ctx, 2*time.Second)
		start := time.Now()
		if err := sub.SetVideoSize(step, vsid, s[0], s[1], -1); err != nil {
			cancel()
			t.Fatalf("setVideoSize: %v", err)
		}
		if _, err := waitSize(step, sub, vsid, s[0], s[1]); err != nil {
			cancel()
			t.Fatalf("switch to %dx%d not done within 2 s: %v", s[0], s[1], err)
		}
		latencies = append(latencies, time.Since(start))
		<-step.Done() // hold the size for the rest of the 2 s step
		cancel()
	}
	st, _ := trackStats(sub, vsid)
	// A switch may cut the old layer's last frame short: its tail arrives
	// after the new layer's keyframe, which then goes first. Such a frame
	// is never referenced (a keyframe follows), so at most one switch cut
	// per switch is allowed; every other frame must be complete and
	// decodable.
	if st.Lost != 0 || st.Incomplete != 0 || st.SwitchCuts > uint64(len(sizes)) || st.Freezes != 0 || !st.FirstFrameKeyframe {
		t.Errorf("switching was not seamless: lost %d, incomplete %d, switch cuts %d, freezes %d, first key %v",
			st.Lost, st.Incomplete, st.SwitchCuts, st.Freezes, st.FirstFrameKeyframe)
	}
	if st.Decodable != st.Frames {
		t.Errorf("%d of %d frames not decodable", st.Frames-st.Decodable, st.Frames)
	}
	sorted := slices.Clone(latencies)
	slices.Sort(sorted)
	t.Logf("preference change -> first frame of the new layer over %d switches: p50 %v, p95 %v, max %v (frames cut by switches: %d)",
		len(sorted), sorted[len(sorted)/2], sorted[len(sorted)*95/100], sorted[len(sorted)-1], st.SwitchCuts)
}

// activeLayers returns the publisher's per-layer active flags (q, h, f).
func activeLayers(s bot.Stats) []bool {
	for _, p := range s.Published {
		if p.Kind == "video" {
			out := make([]bool, len(p.Layers))
			for i, l := range p.Layers {
				out[i] = l.Active
			}
			return out
		}
	}
	return nil
}

// Layers nobody needs are paused at the publisher and resumed within 1 s
// of a subscriber needing them.
func TestSimulcastUnusedLayersPaused(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	pub, vsid := newSimulcastPublisher(ctx, t, srv, "pause")
	sub := newBot(ctx, t, srv, "pause", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	if err := sub.SetVideoSize(ctx, vsid, 320, 180, -1); err != nil {
		t.Fatal(err)
	}
	onlyLow := func(s bot.Stats) bool {
		a := activeLayers(s)
		return len(a) == 3 && a[0] && !a[1] && !a[2]
	}
	if _, err := pub.WaitStats(ctx, onlyLow); err != nil {
		t.Fatalf("h and f never paused for a 320x180 tile: %v (active %v)", err, activeLayers(pub.Stats()))
	}
	start := time.Now()
	if err := sub.SetVideoSize(ctx, vsid, 1280, 720, -1); err != nil {
		t.Fatal(err)
	}
	resumed, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := pub.WaitStats(resumed, func(s bot.Stats) bool {
		a := activeLayers(s)
		return len(a) == 3 && a[2]
	}); err != nil {
		t.Fatalf("f not resumed within 1 s: %v", err)
	}
	if _, err := waitSize(ctx, sub, vsid, 1280, 720); err != nil {
		t.Fatalf("no 1280x720 after resume: %v", err)
	}
	t.Logf("resume to first 720p keyframe: %v", time.Since(start))

	// The server's account of the subscription says why it forwards what
	// it does: the top layer now, nothing (hidden) for a 0x0 tile.
	state := func() sfu.SubscriptionState {
		p := srv.app.SFU().Room("pause").Participant(sub.Self().SID)
		if p == nil {
			t.Fatal("the subscriber left the room")
		}
		st, ok := p.SubscriptionState(vsid)
		if !ok {
			t.Fatalf("no subscription to %s", vsid)
		}
		return st
	}
	if st := state(); !st.Bound || st.Paused || st.Hidden || st.TargetLayer != 2 || st.CurrentLayer != 2 {
		t.Errorf("at 1280x720: %+v, want bound, forwarding layer 2", st)
	}
	if err := sub.SetVideoSize(ctx, vsid, 0, 0, -1); err != nil {
		t.Fatal(err)
	}
	if st := state(); !st.Hidden || !st.Paused || st.CurrentLayer != -1 {
		t.Errorf("at 0x0: %+v, want hidden and paused", st)
	}
	if _, ok := srv.app.SFU().Room("pause").Participant(sub.Self().SID).SubscriptionState("TR_NONE"); ok {
		t.Errorf("a state for a track never subscribed")
	}
}

// A subscriber that never says its tile size gets the middle layer and no
// freeze, while the publisher pauses what nobody uses.
func TestSimulcastDefaultLayerWithoutTileSize(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	_, vsid := newSimulcastPublisher(ctx, t, srv, "nosize")
	sub := newBot(ctx, t, srv, "nosize", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	st, err := waitSize(ctx, sub, vsid, 640, 360)
	if err != nil {
		t.Fatalf("no 640x360 keyframe: %v (last %dx%d)", err, st.Width, st.Height)
	}
	all, err := sub.WaitStats(ctx, func(bot.Stats) bool {
		s, _ := trackStats(sub, vsid)
		return s.Frames >= st.Frames+90 // 3 s, over several layer-monitor ticks
	})
	if err != nil {
		t.Fatalf("frames stopped: %v", err)
	}
	assertHealthy(t, "sub", all)
}

// When the layer a subscriber receives stops arriving (publisher uplink
// trouble), the subscriber falls back to a live layer within 1 s and gets
// the better layer back when it returns.
func TestSimulcastFallbackWhenLayerStalls(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	pub, vsid := newSimulcastPublisher(ctx, t, srv, "stall")
	sub := newBot(ctx, t, srv, "stall", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	if err := sub.SetVideoSize(ctx, vsid, 1280, 720, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := waitSize(ctx, sub, vsid, 1280, 720); err != nil {
		t.Fatalf("no 720p: %v", err)
	}
	if err := pub.StallLayer("f", true); err != nil {
		t.Fatal(err)
	}
	stalledAt := time.Now()
	within, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if _, err := waitSize(within, sub, vsid, 640, 360); err != nil {
		st, _ := trackStats(sub, vsid)
		t.Fatalf("no fallback to 640x360 within 1.5 s of the stall: %v (now %dx%d)", err, st.Width, st.Height)
	}
	fallback := time.Since(stalledAt)
	if err := pub.StallLayer("f", false); err != nil {
		t.Fatal(err)
	}
	if _, err := waitSize(ctx, sub, vsid, 1280, 720); err != nil {
		t.Fatalf("720p did not come back: %v", err)
	}
	st, _ := trackStats(sub, vsid)
	if st.Lost != 0 || st.Decodable != st.Frames {
		t.Errorf("lost %d, %d of %d frames undecodable", st.Lost, st.Frames-st.Decodable, st.Frames)
	}
	t.Logf("fell back %v after the stall; freezes %d (%v)", fallback, st.Freezes, st.FreezeTime)
}
