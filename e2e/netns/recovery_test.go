package netns

import (
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// A bot whose link is cut for 5 s recovers through ICE restarts without
// leaving: the other participant sees no participantLeft, and media flows
// both ways again.
func TestLinkCutRecoversByICERestart(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 45*time.Second)
	cut := newBot(ctx, t, srv, "cut", "cut", botOpts{ip: botA, publish: true, subscribe: true})
	other := newBot(ctx, t, srv, "cut", "other", botOpts{ip: botB, publish: true, subscribe: true})
	waitMoreFrames(ctx, t, "cut", cut, 30)
	waitMoreFrames(ctx, t, "other", other, 30)
	sid := cut.Self().SID

	fw := newFirewall(t)
	fw.cut(botA)
	time.Sleep(5 * time.Second) // the outage itself is the thing under test
	fw.restore()
	restored := time.Now()

	waitMoreFrames(ctx, t, "other (from the cut bot)", other, 15)
	waitMoreFrames(ctx, t, "cut (from the other bot)", cut, 15)
	t.Logf("media back both ways %v after the link came back", time.Since(restored).Round(time.Millisecond))

	st := cut.Stats()
	if st.PublishICERestarts == 0 || st.SubscribeICERestarts == 0 {
		t.Errorf("ICE restarts: publish %d, subscribe %d; want both", st.PublishICERestarts, st.SubscribeICERestarts)
	}
	if n := countEvents(other, signaling.TypeParticipantLeft); n != 0 {
		t.Errorf("other saw %d participantLeft", n)
	}
	if p := srv.app.SFU().Room("cut").Participant(sid); p == nil {
		t.Error("the cut participant is no longer in the room")
	}
}

// A signaling socket killed mid-call is resumed: same participant, no
// participantLeft or participantJoined for the other, media continues.
func TestSignalingDropResumes(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	a := newBot(ctx, t, srv, "resume", "a", botOpts{ip: botA, publish: true, subscribe: true})
	b := newBot(ctx, t, srv, "resume", "b", botOpts{ip: botB, publish: true, subscribe: true})
	waitMoreFrames(ctx, t, "a", a, 30)
	waitMoreFrames(ctx, t, "b", b, 30)
	sid := a.Self().SID
	joinedBefore := countEvents(b, signaling.TypeParticipantJoined)

	start := time.Now()
	a.DropSignal()
	if _, err := a.WaitStats(ctx, func(s bot.Stats) bool { return s.Reconnects == 1 }); err != nil {
		t.Fatalf("no resume: %v (bot error %v)", err, a.Err())
	}
	t.Logf("resumed %v after the socket was killed", time.Since(start).Round(time.Millisecond))
	waitMoreFrames(ctx, t, "b", b, 30)
	waitMoreFrames(ctx, t, "a", a, 30)
	if err := a.SetMuted(ctx, "audio", true); err != nil {
		t.Errorf("request on the resumed socket: %v", err)
	}
	if a.Self().SID != sid || srv.app.SFU().Room("resume").Participant(sid) == nil {
		t.Error("participant changed across the resume")
	}
	if n := countEvents(b, signaling.TypeParticipantLeft); n != 0 {
		t.Errorf("b saw %d participantLeft", n)
	}
	if n := countEvents(b, signaling.TypeParticipantJoined); n != joinedBefore {
		t.Errorf("b saw %d new participantJoined", n-joinedBefore)
	}
}
