package bot

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
)

func TestRoomState(t *testing.T) {
	t0 := time.Unix(0, 0)
	r := newRoomState()
	r.joined(&signaling.Message{Type: signaling.TypeJoined, Participants: []*signaling.ParticipantInfo{
		{SID: "PA_1", Identity: "a", Tracks: []*signaling.TrackInfo{{SID: "TR_1", Kind: "audio"}}},
	}}, t0)
	yes := true
	steps := []*signaling.Message{
		{Type: signaling.TypeParticipantJoined, Participant: &signaling.ParticipantInfo{SID: "PA_2", Identity: "b"}},
		{Type: signaling.TypeTrackPublished, ParticipantSID: "PA_2", Track: &signaling.TrackInfo{SID: "TR_2", Kind: "video"}},
		{Type: signaling.TypeTrackMuted, ParticipantSID: "PA_2", TrackSID: "TR_2", Muted: &yes},
		{Type: signaling.TypeSubscriptionPaused, TrackSID: "TR_2", Paused: &yes},
	}
	for i, m := range steps {
		r.apply(m, t0.Add(time.Duration(i+1)*time.Second))
	}
	if got := r.trackInfo("TR_2"); !got.Muted || !got.Paused || got.ParticipantSID != "PA_2" || got.ExpectedAt != t0.Add(2*time.Second) {
		t.Errorf("TR_2 = %+v", got)
	}
	if got := r.trackInfo("TR_1"); got.ExpectedAt != t0 || got.ParticipantSID != "PA_1" {
		t.Errorf("TR_1 = %+v", got)
	}
	if n := len(r.participantList()); n != 2 {
		t.Errorf("%d participants", n)
	}
	r.apply(&signaling.Message{Type: signaling.TypeParticipantLeft, ParticipantSID: "PA_2"}, t0)
	if tr := r.remoteTracks(); len(tr) != 1 || tr[0].Info.SID != "TR_1" {
		t.Errorf("after leave: %+v", tr)
	}
	if ev := r.eventLog(); len(ev) != 6 || ev[0].Type != signaling.TypeJoined {
		t.Errorf("event log %d entries", len(ev))
	}
}

func TestNotifierWait(t *testing.T) {
	n := newNotifier()
	done := make(chan struct{})
	var v atomic.Int32
	errc := make(chan error, 1)
	go func() {
		errc <- n.waitFor(context.Background(), done, func() bool { return v.Load() >= 3 })
	}()
	for range 3 {
		v.Add(1)
		n.notify()
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.waitFor(ctx, done, func() bool { return false }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	close(done)
	if err := n.waitFor(context.Background(), done, func() bool { return false }); !errors.Is(err, ErrClosed) {
		t.Fatalf("wait on closed bot: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"minted token", Config{URL: "ws://x/ws", Identity: "a", Room: "r"}, true},
		{"given token", Config{URL: "ws://x/ws", Identity: "a", Token: "t"}, true},
		{"no url", Config{Identity: "a", Room: "r"}, false},
		{"no identity", Config{URL: "ws://x/ws", Room: "r"}, false},
		{"no token nor room", Config{URL: "ws://x/ws", Identity: "a"}, false},
		{"h264", Config{URL: "ws://x/ws", Identity: "a", Room: "r", VideoCodec: "video/H264"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.cfg.withDefaults()
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err == nil && (c.Token == "" || c.Media == nil || c.Logger == nil || c.Now == nil) {
				t.Errorf("defaults not filled: %+v", c)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("error %v is not ErrConfig", err)
			}
		})
	}
}
