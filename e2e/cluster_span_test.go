package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster/redistest"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// startSpanNode runs node id of a cluster whose rooms span nodes; tweak,
// when given, changes its config too.
func startSpanNode(t *testing.T, redis, id string, tweak ...func(*app.Config)) *server {
	t.Helper()
	return startNode(t, redis, id, append([]func(*app.Config){func(c *app.Config) { c.Node.SpanRooms = true }}, tweak...)...)
}

// spanBot connects a bot to url and fails the test if it is redirected:
// in a spanning cluster every node serves the rooms it is asked for.
func spanBot(ctx context.Context, t *testing.T, cfg bot.Config) *bot.Bot {
	t.Helper()
	cfg.Media = clips(t)
	cfg.ResumeWindow = -1
	b, err := bot.New(cfg)
	if err != nil {
		t.Fatalf("bot %s: %v", cfg.Identity, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Connect(ctx); err != nil {
		t.Fatalf("bot %s connect: %v", cfg.Identity, err)
	}
	if b.SignalURL() != cfg.URL {
		t.Fatalf("bot %s served by %s, want %s (no redirect when rooms span)", cfg.Identity, b.SignalURL(), cfg.URL)
	}
	return b
}

// A spanning room: 2 publishers on node a, 10 subscribers on node b. Node
// a sends each track to b once (4 relays, not 40); every subscriber
// receives every track with no freeze; a subscriber on b that resizes its
// tile gets the other simulcast layer, chosen on b.
func TestClusterSpanningRoom(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startSpanNode(t, rs.Addr(), "a"), startSpanNode(t, rs.Addr(), "b")
	ctx := deadline(t, 90*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })

	var pubs []*bot.Bot
	for i := range 2 {
		pubs = append(pubs, spanBot(ctx, t, bot.Config{URL: a.url, Room: "span", Identity: fmt.Sprintf("pub%d", i), Publish: true, Simulcast: true}))
	}
	var subs []*bot.Bot
	for i := range 10 {
		subs = append(subs, spanBot(ctx, t, bot.Config{URL: b.url, Room: "span", Identity: fmt.Sprintf("sub%d", i), Subscribe: true}))
	}
	start := time.Now()
	for _, s := range subs {
		st, err := s.WaitStats(ctx, func(s bot.Stats) bool { return s.Totals.TracksReceiving >= 4 && s.VideoFrames() >= 2*30 })
		if err != nil {
			t.Fatalf("%s: %v (stats %+v)", s.Self().Identity, err, st.Totals)
		}
	}
	t.Logf("10 subscribers on b receive 4 tracks from a after %v", time.Since(start))

	relaysOut := a.app.SFU().Counters().RelaysOut.Load()
	relaysIn := b.app.SFU().Counters().RelaysIn.Load()
	if relaysOut != 4 || relaysIn != 4 {
		t.Errorf("relays: a sends %d, b receives %d; want 4 each (one per track and node)", relaysOut, relaysIn)
	}
	if n := b.app.SFU().Counters().RelaysOut.Load(); n != 0 {
		t.Errorf("b relays %d tracks; it publishes none", n)
	}
	fams := scrape(ctx, t, a)
	if out, sent := value(fams, "hibiki_relays", "direction", "out"), value(fams, "hibiki_relay_packets_sent_total"); out != 4 || sent == 0 {
		t.Errorf("a's metrics: %v relays out, %v relay packets sent", out, sent)
	}
	// Presence: the publishers on a see the subscribers on b.
	for _, p := range pubs {
		waitFor(ctx, t, p.Self().Identity+" sees 11 others", func() bool { return len(p.Participants()) == 11 })
	}

	// Per-subscriber layer choice on b: one subscriber asks for a small
	// tile, another for a large one.
	vsid := pubs[0].TrackSID("video")
	small, large := subs[0], subs[1]
	if err := small.SetVideoSize(ctx, vsid, 320, 180, -1); err != nil {
		t.Fatalf("small tile: %v", err)
	}
	if err := large.SetVideoSize(ctx, vsid, 1280, 720, -1); err != nil {
		t.Fatalf("large tile: %v", err)
	}
	if st, err := waitSize(ctx, small, vsid, 320, 180); err != nil {
		t.Fatalf("small tile never got 320x180 (last %dx%d): %v", st.Width, st.Height, err)
	}
	if st, err := waitSize(ctx, large, vsid, 1280, 720); err != nil {
		t.Fatalf("large tile never got 1280x720 (last %dx%d): %v", st.Width, st.Height, err)
	}
	if n := a.app.SFU().Counters().RelaysOut.Load(); n != 4 {
		t.Errorf("a relays %d streams after the resizes, want still 4", n)
	}

	// Everyone keeps receiving for another second, healthily.
	for _, s := range subs {
		before := s.Stats().VideoFrames()
		st, err := s.WaitStats(ctx, func(x bot.Stats) bool { return x.VideoFrames() >= before+2*30 })
		if err != nil {
			t.Fatalf("%s stalled: %v", s.Self().Identity, err)
		}
		assertHealthy(t, s.Self().Identity, st)
	}
}

// What happens on one node reaches the other: a participant on a is seen
// on b (and the other way), a mute on a shows on b, a speaker on a is the
// dominant speaker on b too, an unpublished track and a participant that
// leaves a are gone on b.
func TestClusterSpanningPresence(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startSpanNode(t, rs.Addr(), "a"), startSpanNode(t, rs.Addr(), "b")
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })

	talker := spanBot(ctx, t, bot.Config{URL: a.url, Room: "p", Identity: "talker", Publish: true, Speaking: func(time.Duration) bool { return true }})
	watcher := spanBot(ctx, t, bot.Config{URL: b.url, Room: "p", Identity: "watcher", Publish: true, Subscribe: true})
	if _, err := watcher.WaitStats(ctx, func(s bot.Stats) bool { return videoFrom(s, talker.Self().SID) >= 30 }); err != nil {
		t.Fatalf("watcher on b gets no video from a: %v", err)
	}
	waitFor(ctx, t, "talker on a sees watcher on b", func() bool { return len(talker.Participants()) == 1 })
	// b's admin API lists the talker as served by a, and leaves it to a.
	var view struct {
		Participants []struct{ SID, Node string }
	}
	if code := adminCall(ctx, t, b, http.MethodGet, "/admin/rooms/p", adminKey, "", &view); code != http.StatusOK {
		t.Fatalf("GET room on b = %d", code)
	}
	nodes := map[string]string{}
	for _, p := range view.Participants {
		nodes[p.SID] = p.Node
	}
	if n, ok := nodes[talker.Self().SID]; !ok || n != "a" || nodes[watcher.Self().SID] != "" {
		t.Errorf("b's admin view: %+v", view)
	}
	if code := adminCall(ctx, t, b, http.MethodDelete, "/admin/rooms/p/participants/"+talker.Self().SID, adminKey, "", nil); code != http.StatusConflict {
		t.Errorf("removing a's participant on b = %d, want 409", code)
	}
	if _, err := watcher.WaitMessage(ctx, func(m *signaling.Message) bool {
		return m.Type == signaling.TypeActiveSpeakers && m.Dominant == talker.Self().SID
	}); err != nil {
		t.Fatalf("talker on a never dominant on b: %v", err)
	}

	vsid := talker.TrackSID("video")
	if err := talker.SetMuted(ctx, "video", true); err != nil {
		t.Fatalf("mute: %v", err)
	}
	if _, err := watcher.WaitMessage(ctx, func(m *signaling.Message) bool {
		return m.Type == signaling.TypeTrackMuted && m.TrackSID == vsid && m.Muted != nil && *m.Muted
	}); err != nil {
		t.Fatalf("mute on a not seen on b: %v", err)
	}
	if err := talker.Unpublish(ctx, "video"); err != nil {
		t.Fatalf("unpublish: %v", err)
	}
	if _, err := watcher.WaitMessage(ctx, func(m *signaling.Message) bool {
		return m.Type == signaling.TypeTrackUnpublished && m.TrackSID == vsid
	}); err != nil {
		t.Fatalf("unpublish on a not seen on b: %v", err)
	}
	waitFor(ctx, t, "a relays only the audio", func() bool { return a.app.SFU().Counters().RelaysOut.Load() == 1 })

	sid := talker.Self().SID
	start := time.Now()
	_ = talker.Close()
	if _, err := watcher.WaitMessage(ctx, func(m *signaling.Message) bool {
		return m.Type == signaling.TypeParticipantLeft && m.ParticipantSID == sid
	}); err != nil {
		t.Fatalf("leave on a not seen on b: %v", err)
	}
	t.Logf("a leave on a seen on b after %v", time.Since(start))
	waitFor(ctx, t, "relays closed", func() bool {
		return a.app.SFU().Counters().RelaysOut.Load() == 0 && b.app.SFU().Counters().RelaysIn.Load() == 0
	})
}

// A node of a spanning room dies: its bots join the room again on the other
// node and receive media within 10 s; the bots on the surviving node never
// stop receiving the publisher that stayed, and see the dead node's
// participants leave.
func TestClusterSpanningNodeKilled(t *testing.T) {
	rs := redistest.Start(t)
	aURL, kill := startNodeProcess(t, rs.Addr(), "a", true)
	b := startSpanNode(t, rs.Addr(), "b")
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, b)) == 2 })

	join := func(url, id string, publish bool, fallback ...string) *bot.Bot {
		return spanBot(ctx, t, bot.Config{URL: url, FallbackURLs: fallback, Room: "k", Identity: id, Publish: publish, Subscribe: !publish})
	}
	pubA, subA := join(aURL, "pubA", true, b.url), join(aURL, "subA", false, b.url)
	pubB, subB := join(b.url, "pubB", true), join(b.url, "subB", false)
	for _, c := range []struct {
		sub, pub *bot.Bot
	}{{subA, pubB}, {subB, pubA}, {subB, pubB}} {
		if _, err := c.sub.WaitStats(ctx, func(s bot.Stats) bool { return videoFrom(s, c.pub.Self().SID) >= 30 }); err != nil {
			t.Fatalf("%s gets no video from %s: %v", c.sub.Self().Identity, c.pub.Self().Identity, err)
		}
	}
	oldA := pubA.Self().SID
	stayed := func() bot.TrackStats {
		for _, tr := range subB.Stats().Tracks {
			if tr.Kind == "video" && tr.ParticipantSID == pubB.Self().SID {
				return tr
			}
		}
		return bot.TrackStats{}
	}
	before := stayed()
	subAFrames := videoFrom(subA.Stats(), pubB.Self().SID)

	if err := kill(); err != nil {
		t.Fatalf("kill a: %v", err)
	}
	start := time.Now()
	// The bot's stats carry over a move: new frames are those past the
	// count at the kill.
	if _, err := subA.WaitStats(ctx, func(s bot.Stats) bool { return s.Moves >= 1 && videoFrom(s, pubB.Self().SID) >= subAFrames+10 }); err != nil {
		t.Fatalf("subA never received pubB again: %v", err)
	}
	subAback := time.Since(start)
	if _, err := subB.WaitStats(ctx, func(s bot.Stats) bool {
		return pubA.Stats().Moves >= 1 && pubA.Self().SID != oldA && videoFrom(s, pubA.Self().SID) > 0
	}); err != nil {
		t.Fatalf("subB never received the rejoined pubA: %v", err)
	}
	pubAback := time.Since(start)
	t.Logf("node killed: subA receives again after %v, pubA's video back on b after %v", subAback, pubAback)
	if subAback > recoveryLimit || pubAback > recoveryLimit {
		t.Errorf("recovery took %v / %v, want within %v", subAback, pubAback, recoveryLimit)
	}
	if _, err := subB.WaitMessage(ctx, func(m *signaling.Message) bool {
		return m.Type == signaling.TypeParticipantLeft && m.ParticipantSID == oldA
	}); err != nil {
		t.Fatalf("the dead node's pubA never left on b: %v", err)
	}
	after := stayed()
	if after.Frames < before.Frames+30 || after.Freezes != before.Freezes {
		t.Errorf("subB's video from pubB (stayed on b): frames %d -> %d, freezes %d -> %d", before.Frames, after.Frames, before.Freezes, after.Freezes)
	}
}

// Redis restarted under a spanning room: the relays between the nodes are
// direct connections, so the call goes on; the parts are written again
// once Redis is back, and a newcomer on the other node gets the tracks.
func TestClusterSpanningRedisRestart(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startSpanNode(t, rs.Addr(), "a"), startSpanNode(t, rs.Addr(), "b")
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })

	pub := spanBot(ctx, t, bot.Config{URL: a.url, Room: "r", Identity: "pub", Publish: true})
	sub := spanBot(ctx, t, bot.Config{URL: b.url, Room: "r", Identity: "sub", Subscribe: true})
	if _, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return videoFrom(s, pub.Self().SID) >= 30 }); err != nil {
		t.Fatalf("before: %v", err)
	}

	rs.Stop()
	// Longer than the node TTL: a missing part must not end the call.
	before := videoFrom(sub.Stats(), pub.Self().SID)
	if _, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return videoFrom(s, pub.Self().SID) >= before+75 }); err != nil {
		t.Fatalf("call stalled without Redis: %v", err)
	}
	rs.Restart()
	late := spanBot(ctx, t, bot.Config{URL: b.url, Room: "r", Identity: "late", Subscribe: true})
	if _, err := late.WaitStats(ctx, func(s bot.Stats) bool { return videoFrom(s, pub.Self().SID) >= 30 }); err != nil {
		t.Fatalf("newcomer after the restart: %v", err)
	}
	for _, m := range sub.Events() {
		if m.Type == signaling.TypeParticipantLeft {
			t.Errorf("sub saw a participant leave during the outage: %+v", m)
		}
	}
	st := sub.Stats()
	for _, tr := range st.Tracks {
		if tr.Kind == "video" && tr.Freezes > 0 {
			t.Errorf("sub's video froze %d times", tr.Freezes)
		}
	}
	if n := a.app.SFU().Counters().RelaysOut.Load(); n != 2 {
		t.Errorf("a relays %d tracks after the restart, want 2", n)
	}
}

// Draining a node of a spanning room: its publisher moves to the other
// node, where the subscriber already is; the subscriber gets the moved
// publisher's video, and the drained node leaves no relay behind.
func TestClusterSpanningDrain(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startSpanNode(t, rs.Addr(), "a"), startSpanNode(t, rs.Addr(), "b")
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, b)) == 2 })

	pub := spanBot(ctx, t, bot.Config{URL: a.url, Room: "d", Identity: "pub", Publish: true})
	sub := spanBot(ctx, t, bot.Config{URL: b.url, Room: "d", Identity: "sub", Subscribe: true})
	if _, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return videoFrom(s, pub.Self().SID) >= 30 }); err != nil {
		t.Fatalf("video before the drain: %v", err)
	}
	old := pub.Self().SID
	start := time.Now()
	if code := adminCall(ctx, t, a, http.MethodPost, "/admin/drain", adminKey, "", nil); code != http.StatusAccepted {
		t.Fatalf("POST /admin/drain = %d, want 202", code)
	}
	if _, err := sub.WaitStats(ctx, func(s bot.Stats) bool {
		return pub.Stats().Moves >= 1 && pub.Self().SID != old && videoFrom(s, pub.Self().SID) >= 30
	}); err != nil {
		t.Fatalf("video after the drain: %v", err)
	}
	t.Logf("spanning drain: 30 frames of the moved publisher on b after %v", time.Since(start))
	if err := a.app.Drain(ctx); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if pub.SignalURL() != b.url {
		t.Errorf("publisher moved to %s, want b %s", pub.SignalURL(), b.url)
	}
	waitFor(ctx, t, "relays closed", func() bool {
		return a.app.SFU().Counters().RelaysOut.Load() == 0 && b.app.SFU().Counters().RelaysIn.Load() == 0
	})
	if r := b.app.SFU().Room("d"); r == nil || len(r.Participants()) != 2 || len(r.Local()) != 2 {
		t.Errorf("room on b after the drain: %v", r)
	}
}

// A room that outgrows a node's share: with node.room_share 2, the first
// two participants reaching node a are served there, the next two are sent
// to b, and with both parts full the fifth stays on a (over the share
// rather than refused). Everyone receives the publisher's video.
func TestClusterSpanningRoomShare(t *testing.T) {
	rs := redistest.Start(t)
	share := func(c *app.Config) { c.Node.RoomShare = 2 }
	a, b := startSpanNode(t, rs.Addr(), "a", share), startSpanNode(t, rs.Addr(), "b", share)
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })

	local := func(s *server) int {
		if r := s.app.SFU().Room("big"); r != nil {
			return len(r.Local())
		}
		return 0
	}
	join := func(id string, publish bool) *bot.Bot {
		x, err := tryBot(ctx, t, a.url, "big", id, publish, !publish)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return x
	}
	want := []struct {
		id      string
		publish bool
		node    *server
	}{{"pub", true, a}, {"s1", false, a}, {"s2", false, b}, {"s3", false, b}, {"s4", false, a}}
	var bots []*bot.Bot
	for i, w := range want {
		x := join(w.id, w.publish)
		if x.SignalURL() != w.node.url {
			t.Fatalf("%s served by %s, want %s", w.id, x.SignalURL(), w.node.url)
		}
		bots = append(bots, x)
		// The parts' sizes reach Redis before the next join is placed.
		n := 0
		for _, v := range want[:i+1] {
			if v.node == w.node {
				n++
			}
		}
		waitFor(ctx, t, w.id+" counted", func() bool { return local(w.node) == n })
		if w.node == b {
			waitFor(ctx, t, w.id+" in b's part", func() bool {
				parts, err := a.app.Cluster().Parts(ctx, "big")
				return err == nil && len(parts) == 1 && parts[0].Size == n
			})
		}
	}
	pub := bots[0]
	for _, s := range bots[1:] {
		if _, err := s.WaitStats(ctx, func(x bot.Stats) bool { return videoFrom(x, pub.Self().SID) >= 30 }); err != nil {
			t.Fatalf("%s: %v", s.Self().Identity, err)
		}
	}
	if a.app.SFU().Counters().RelaysOut.Load() != 2 {
		t.Errorf("a relays %d tracks to b, want 2", a.app.SFU().Counters().RelaysOut.Load())
	}
}

// Data channels across nodes: a participant on a sends a file to one
// participant on b (reliable, targeted), the room gets a broadcast, and
// lossy game state reaches b too; a participant on b not addressed gets
// only the broadcasts.
func TestClusterSpanningData(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startSpanNode(t, rs.Addr(), "a"), startSpanNode(t, rs.Addr(), "b")
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })

	sender := spanBot(ctx, t, bot.Config{URL: a.url, Room: "data", Identity: "sender"})
	to := spanBot(ctx, t, bot.Config{URL: b.url, Room: "data", Identity: "to"})
	other := spanBot(ctx, t, bot.Config{URL: b.url, Room: "data", Identity: "other"})
	for _, x := range []*bot.Bot{sender, to, other} {
		if err := x.WaitDataOpen(ctx); err != nil {
			t.Fatalf("%s data: %v", x.Self().Identity, err)
		}
	}
	waitFor(ctx, t, "sender sees both on b", func() bool { return len(sender.Participants()) == 2 })

	file := bytes.Repeat([]byte("0123456789abcdef"), 3000) // 48 KB in one message
	start := time.Now()
	if _, err := sender.SendData(ctx, bot.DataSend{To: []string{to.Self().SID}, Topic: "file", Payload: file}); err != nil {
		t.Fatal(err)
	}
	got, err := to.WaitData(ctx, 1, func(m bot.DataMessage) bool { return m.Topic == "file" })
	if err != nil {
		t.Fatalf("file never arrived on b: %v", err)
	}
	t.Logf("48 KB targeted message a -> b in %v", time.Since(start))
	if got[0].From != sender.Self().SID || !bytes.Equal(got[0].Payload, file) {
		t.Errorf("file from %s, %d bytes; want from %s, %d bytes", got[0].From, len(got[0].Payload), sender.Self().SID, len(file))
	}
	if _, err := sender.SendData(ctx, bot.DataSend{Topic: "all", Payload: []byte("hello room"), Text: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := sender.SendData(ctx, bot.DataSend{Topic: "pos", Payload: []byte{1, 2, 3}, Lossy: true}); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*bot.Bot{to, other} {
		if _, err := x.WaitData(ctx, 1, func(m bot.DataMessage) bool { return m.Topic == "all" && m.From == sender.Self().SID }); err != nil {
			t.Fatalf("%s: broadcast never arrived: %v", x.Self().Identity, err)
		}
		if _, err := x.WaitData(ctx, 1, func(m bot.DataMessage) bool { return m.Topic == "pos" && m.Lossy }); err != nil {
			t.Fatalf("%s: lossy message never arrived: %v", x.Self().Identity, err)
		}
	}
	for _, m := range other.DataMessages() {
		if m.Topic == "file" {
			t.Error("the file reached a participant it was not for")
		}
	}
	// b's participants answer: data flows the other way as well.
	if _, err := to.SendData(ctx, bot.DataSend{To: []string{sender.Self().SID}, Topic: "ack", Payload: []byte("ok")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sender.WaitData(ctx, 1, func(m bot.DataMessage) bool { return m.Topic == "ack" && m.From == to.Self().SID }); err != nil {
		t.Fatalf("answer from b never arrived on a: %v", err)
	}
}

// The layers a relay carries follow what the other node's subscribers
// need: with the only subscriber on b watching a small tile, a publisher on
// a (with no subscriber of its own) encodes only its smallest layer; when
// the tile grows, the large layer comes back through the relay.
func TestClusterSpanningRelayFollowsNeeds(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startSpanNode(t, rs.Addr(), "a"), startSpanNode(t, rs.Addr(), "b")
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })

	pub := spanBot(ctx, t, bot.Config{URL: a.url, Room: "n", Identity: "pub", Publish: true, Simulcast: true})
	sub := spanBot(ctx, t, bot.Config{URL: b.url, Room: "n", Identity: "sub", Subscribe: true})
	vsid := pub.TrackSID("video")
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	if err := sub.SetVideoSize(ctx, vsid, 320, 180, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := waitSize(ctx, sub, vsid, 320, 180); err != nil {
		t.Fatalf("small tile: %v", err)
	}
	if _, err := pub.WaitStats(ctx, func(s bot.Stats) bool {
		a := activeLayers(s)
		return len(a) == 3 && a[0] && !a[1] && !a[2]
	}); err != nil {
		t.Fatalf("h and f never paused for b's 320x180 tile: %v (active %v)", err, activeLayers(pub.Stats()))
	}
	start := time.Now()
	if err := sub.SetVideoSize(ctx, vsid, 1280, 720, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := waitSize(ctx, sub, vsid, 1280, 720); err != nil {
		t.Fatalf("large tile never got 1280x720 through the relay: %v", err)
	}
	t.Logf("a paused layer resumed through the relay: 1280x720 on b %v after the resize", time.Since(start))
	st, _ := trackStats(sub, vsid)
	if st.Lost != 0 || st.Incomplete != 0 || st.Freezes != 0 {
		t.Errorf("subscriber on b: lost %d, incomplete %d, freezes %d", st.Lost, st.Incomplete, st.Freezes)
	}
}

// A spanning room filled and emptied again and again leaves nothing
// behind: after each cycle both nodes have closed the room and every
// relay, and at the end the process's goroutines and open files are back
// at their baseline (both nodes and the bots share this process). The
// baseline is taken after a first cycle, which fills pools that stay; the
// Redis clients' pools still vary with how many calls overlapped, so open
// files get a margin of 8 (a leaked relay would cost several sockets and
// a dozen goroutines per cycle).
func TestClusterSpanningCyclesLeaveNothing(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startSpanNode(t, rs.Addr(), "a"), startSpanNode(t, rs.Addr(), "b")
	ctx := deadline(t, 90*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })
	var base app.Health
	const cycles = 5
	for i := range cycles {
		if i == 1 {
			base = a.app.Health()
		}
		pub := spanBot(ctx, t, bot.Config{URL: a.url, Room: "cyc", Identity: fmt.Sprint("pub", i), Publish: true, Simulcast: true})
		sub := spanBot(ctx, t, bot.Config{URL: b.url, Room: "cyc", Identity: fmt.Sprint("sub", i), Publish: true, Subscribe: true})
		if _, err := sub.WaitStats(ctx, func(s bot.Stats) bool { return videoFrom(s, pub.Self().SID) >= 30 }); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		_ = pub.Close()
		_ = sub.Close()
		waitFor(ctx, t, fmt.Sprint("cycle ", i, " cleaned up"), func() bool {
			ca, cb := a.app.SFU().Counters(), b.app.SFU().Counters()
			return a.app.SFU().Room("cyc") == nil && b.app.SFU().Room("cyc") == nil &&
				ca.RelaysOut.Load() == 0 && ca.RelaysIn.Load() == 0 && cb.RelaysOut.Load() == 0 && cb.RelaysIn.Load() == 0
		})
	}
	var end app.Health
	settle, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		end = a.app.Health()
		if end.Goroutines <= base.Goroutines+5 && end.OpenFiles <= base.OpenFiles+8 {
			break
		}
		select {
		case <-settle.Done():
			t.Fatalf("after %d cycles: goroutines %d (baseline %d), open files %d (baseline %d)", cycles, end.Goroutines, base.Goroutines, end.OpenFiles, base.OpenFiles)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Logf("%d spanning cycles: goroutines %d -> %d, open files %d -> %d", cycles, base.Goroutines, end.Goroutines, base.OpenFiles, end.OpenFiles)
}
