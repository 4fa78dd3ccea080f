package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// Two publishers (audio + video) and three subscribers: every subscriber
// gets every track, complete frames from a keyframe on, no loss, no freeze.
func TestEveryoneReceivesEveryTrack(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 60*time.Second)
	const room = "mesh"
	for i := range 2 {
		newBot(ctx, t, srv, room, fmt.Sprintf("pub-%d", i), true, false)
	}
	subs := make([]*bot.Bot, 3)
	for i := range subs {
		subs[i] = newBot(ctx, t, srv, room, fmt.Sprintf("sub-%d", i), false, true)
	}
	for i, s := range subs {
		// 4 tracks, and about 3 s of video on each video track.
		st, err := s.WaitStats(ctx, func(st bot.Stats) bool {
			return st.Totals.TracksReceiving >= 4 && st.VideoFrames() >= 2*90
		})
		if err != nil {
			t.Fatalf("sub-%d: %v (stats %+v)", i, err, st.Totals)
		}
		if len(st.Tracks) != 4 {
			t.Errorf("sub-%d received %d tracks, want 4", i, len(st.Tracks))
		}
		assertHealthy(t, fmt.Sprintf("sub-%d", i), st)
		for _, tr := range st.Tracks {
			if tr.Kind == "audio" && tr.AudioLevel < 0 {
				t.Errorf("sub-%d: audio track %s arrived without the audio-level extension", i, tr.TrackSID)
			}
		}
	}
	if got := len(srv.app.SFU().Room(room).Participants()); got != 5 {
		t.Errorf("room has %d participants, want 5", got)
	}
}

// A publisher that leaves is seen leaving, its tracks are unpublished and
// the server forgets it.
func TestLeaveIsSeenAndTracksRemoved(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	pub := newBot(ctx, t, srv, "leave", "pub", true, false)
	sub := newBot(ctx, t, srv, "leave", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	pubSID := pub.Self().SID
	if err := pub.Leave(ctx); err != nil {
		t.Fatalf("leave: %v", err)
	}
	if _, err := sub.WaitMessage(ctx, func(m *signaling.Message) bool {
		return m.Type == signaling.TypeParticipantLeft && m.ParticipantSID == pubSID
	}); err != nil {
		t.Fatalf("participantLeft not seen: %v", err)
	}
	// trackUnpublished follows participantLeft; wait for both tracks.
	countUnpublished := func() int {
		n := 0
		for _, m := range sub.Events() {
			if m.Type == signaling.TypeTrackUnpublished && m.ParticipantSID == pubSID {
				n++
			}
		}
		return n
	}
	// (WaitStats, not WaitMessage: its predicate must not read Events.)
	if _, err := sub.WaitStats(ctx, func(bot.Stats) bool { return countUnpublished() >= 2 }); err != nil {
		t.Errorf("saw %d trackUnpublished events, want 2: %v", countUnpublished(), err)
	}
	if _, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return s.Totals.TracksReceiving == 0 }); err != nil {
		t.Errorf("subscriber still receives tracks: %v", err)
	}
	room := srv.app.SFU().Room("leave")
	if room == nil || len(room.Participants()) != 1 {
		t.Errorf("server room state wrong after leave")
	}
}

// Malformed and refused requests get typed errors, and the sender keeps
// its session: media still flows to it and the room is intact.
func TestBadRequestsDoNotHurtTheRoom(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	newBot(ctx, t, srv, "bad", "pub", true, false)
	sub := newBot(ctx, t, srv, "bad", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	cases := []struct {
		frame string
		code  string
	}{
		{`{not json`, signaling.CodeBadJSON},
		{`{"type":"teleport","id":"1"}`, signaling.CodeUnknownType},
		{`{"type":"mute","id":"2","trackSid":"TR_nope","muted":true}`, signaling.CodeNotFound},
		{`{"type":"offer","id":"3","target":"subscribe","sdp":"v=0"}`, signaling.CodeBadRequest},
		{`{"type":"offer","id":"4","target":"publish","sdp":"garbage"}`, signaling.CodeBadRequest},
		{`{"type":"candidate","id":"5","target":"publish","candidate":{"candidate":"candidate:bogus"}}`, signaling.CodeBadRequest},
		{`{"type":"join","id":"6","token":"x"}`, signaling.CodeBadRequest},
		{`{"type":"setVideoSize","id":"7","trackSid":"TR_nope","width":-5}`, signaling.CodeBadRequest},
		{`{"type":"x","pad":"` + string(make([]byte, 70<<10)) + `"}`, signaling.CodeTooLarge},
	}
	for _, c := range cases {
		before := len(sub.LastErrors())
		if err := sub.Signal().SendRaw([]byte(c.frame)); err != nil {
			t.Fatalf("send: %v", err)
		}
		if _, err := sub.WaitMessage(ctx, func(*signaling.Message) bool { return len(sub.LastErrors()) > before }); err != nil {
			// LastErrors is not an event; poll it through stats changes.
			t.Fatalf("no error for %.40q: %v", c.frame, err)
		}
		got := sub.LastErrors()[before]
		if got.Code != c.code {
			t.Errorf("frame %.40q: code %q, want %q (%s)", c.frame, got.Code, c.code, got.Message)
		}
	}
	frames := sub.Stats().VideoFrames()
	st, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return s.VideoFrames() >= frames+30 })
	if err != nil {
		t.Fatalf("media stopped after bad requests: %v", err)
	}
	assertHealthy(t, "sub", st)
	if n := len(srv.app.SFU().Room("bad").Participants()); n != 2 {
		t.Errorf("room has %d participants, want 2", n)
	}
}

// A subscriber that stops reading its media does not stall the publisher
// or the other subscribers.
func TestStalledSubscriberDoesNotStallOthers(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 40*time.Second)
	newBot(ctx, t, srv, "stall", "pub", true, false)
	stalled := newBot(ctx, t, srv, "stall", "stalled", false, true)
	healthy := newBot(ctx, t, srv, "stall", "healthy", false, true)
	for _, b := range []*bot.Bot{stalled, healthy} {
		if err := b.WaitTracks(ctx, 2); err != nil {
			t.Fatalf("tracks: %v", err)
		}
	}
	stalled.StopReading()
	frames := healthy.Stats().VideoFrames()
	st, err := healthy.WaitStats(ctx, func(s bot.Stats) bool { return s.VideoFrames() >= frames+150 }) // 5 s
	if err != nil {
		t.Fatalf("healthy subscriber starved: %v", err)
	}
	assertHealthy(t, "healthy", st)
}

// Muting a track stops its forwarded packets; unmuting resumes them from a
// keyframe.
func TestMuteStopsForwarding(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 40*time.Second)
	pub := newBot(ctx, t, srv, "mute", "pub", true, false)
	sub := newBot(ctx, t, srv, "mute", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	vsid := pub.TrackSID("video")
	asid := pub.TrackSID("audio")
	if err := pub.SetMuted(ctx, "video", true); err != nil {
		t.Fatalf("mute: %v", err)
	}
	if _, err := sub.WaitMessage(ctx, func(m *signaling.Message) bool {
		return m.Type == signaling.TypeTrackMuted && m.TrackSID == vsid && m.Muted != nil && *m.Muted
	}); err != nil {
		t.Fatalf("trackMuted not seen: %v", err)
	}
	v0, _ := trackStats(sub, vsid)
	a0, _ := trackStats(sub, asid)
	// Audio keeps flowing: 50 packets (1 s) is the clock for "video stopped".
	if _, err := sub.WaitStats(ctx, func(bot.Stats) bool {
		a, _ := trackStats(sub, asid)
		return a.Packets >= a0.Packets+50
	}); err != nil {
		t.Fatalf("audio stopped with video muted: %v", err)
	}
	v1, _ := trackStats(sub, vsid)
	if d := v1.Packets - v0.Packets; d > 5 {
		t.Errorf("muted video still forwarded %d packets in 1 s", d)
	}
	if err := pub.SetMuted(ctx, "video", false); err != nil {
		t.Fatalf("unmute: %v", err)
	}
	st, err := sub.WaitStats(ctx, func(bot.Stats) bool {
		v, _ := trackStats(sub, vsid)
		return v.Frames >= v1.Frames+30
	})
	if err != nil {
		t.Fatalf("video did not resume: %v", err)
	}
	assertHealthy(t, "sub", st)
}
