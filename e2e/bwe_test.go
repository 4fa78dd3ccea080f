package e2e

import (
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
)

// With bandwidth estimation on and nothing in the way (loopback), a
// subscriber that wants 720p is probed up to the top layer, sees its
// estimate and allocation in stats events, and receives every frame. The
// impaired-link behaviour is in e2e/bwe (make bwe).
func TestBandwidthEstimationOnLoopback(t *testing.T) {
	srv := startServer(t, func(c *app.Config) {
		c.BWE.Enabled = true
		c.BWE.StatsInterval = 200 * time.Millisecond
	})
	ctx := deadline(t, 40*time.Second)
	_, vsid := newSimulcastPublisher(ctx, t, srv, "bwe")
	sub := newBot(ctx, t, srv, "bwe", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	if err := sub.SetVideoSize(ctx, vsid, 1280, 720, -1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := waitSize(ctx, sub, vsid, 1280, 720); err != nil {
		t.Fatalf("top layer not reached: %v", err)
	}
	t.Logf("top layer %v after asking for 720p", time.Since(start).Round(10*time.Millisecond))
	var est, layer int
	st, err := sub.WaitStats(ctx, func(s bot.Stats) bool {
		if s.Server == nil {
			return false
		}
		est = s.Server.Estimate
		for _, tr := range s.Server.Tracks {
			if tr.TrackSID == vsid {
				layer = tr.Layer
				return layer == 2 && est >= s.Server.Allocated && tr.Bitrate > 0
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("no stats event with the top layer allocated: %v (estimate %d, layer %d)", err, est, layer)
	}
	t.Logf("estimate %d bit/s, allocated %d", st.Server.Estimate, st.Server.Allocated)
	// Switches on the way up may cut a frame each; nothing may be lost.
	for _, tr := range st.Tracks {
		if tr.Packets == 0 || tr.Lost > 0 || tr.Incomplete > 0 || tr.Freezes > 0 || !tr.FirstFrameKeyframe {
			t.Errorf("track %s (%s): packets %d lost %d incomplete %d freezes %d first key %v",
				tr.TrackSID, tr.Kind, tr.Packets, tr.Lost, tr.Incomplete, tr.Freezes, tr.FirstFrameKeyframe)
		}
	}
}
