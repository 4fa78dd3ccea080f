package bwe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// onePublisher starts a simulcast publisher and the impaired subscriber
// (its data messages to onData, if set), and returns both with the
// publisher's video SID once the subscriber receives both tracks. The
// subscriber's tile wants 1280x720, so only bandwidth keeps it below the
// top layer.
func onePublisher(ctx context.Context, t *testing.T, tb *testbed, onData func(bot.DataMessage)) (pub, sub *bot.Bot, vsid string) {
	t.Helper()
	pub = tb.bot(ctx, bot.Config{Room: "bwe", Identity: "pub", Publish: true, Simulcast: true}, nil)
	vsid = pub.TrackSID("video")
	sub = tb.bot(ctx, bot.Config{Room: "bwe", Identity: "sub", Subscribe: true, OnData: onData}, tb.subNet)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("subscriber tracks: %v", err)
	}
	if err := sub.SetVideoSize(ctx, vsid, 1280, 720, -1); err != nil {
		t.Fatalf("setVideoSize: %v", err)
	}
	return pub, sub, vsid
}

// onePublisherScenario is the start of the one-publisher scenarios: the
// testbed with its downlink as lc, the publisher and the subscriber
// (onePublisher), and a recorder of the subscriber named name; the whole scenario must end
// within timeout.
func onePublisherScenario(t *testing.T, name string, lc linkConfig, timeout time.Duration) (context.Context, *testbed, string, *recorder) {
	t.Helper()
	scenario(t)
	tb := newTestbed(t, lc)
	ctx := deadline(t, timeout)
	_, sub, vsid := onePublisher(ctx, t, tb, nil)
	return ctx, tb, vsid, tb.recorder(name, sub)
}

// recorder returns a recorder named name of sub behind the testbed's
// downlink, with the server's counters.
func (tb *testbed) recorder(name string, sub *bot.Bot) *recorder {
	rec := newRecorder(name, sub, tb.down)
	rec.srv = tb.srv.SFU().Counters()
	return rec
}

// report saves the scenario's time series and logs what the server and
// the subscriber counted.
func report(t *testing.T, tb *testbed, r *recorder) {
	t.Helper()
	saveCSV(t, r)
	logCounters(t, tb)
	logTracks(t, r.sub)
}

func saveCSV(t *testing.T, r *recorder) {
	t.Helper()
	path, err := r.writeCSV()
	if err != nil {
		t.Errorf("csv: %v", err)
		return
	}
	t.Logf("time series: %s", path)
}

// 1. 800 kbit/s: the middle layer (about 500 kbit/s) is the best that
// fits; it must be reached within 5 s and then hold with < 2 % loss.
func TestScenario1Cap800k(t *testing.T) {
	ctx, tb, vsid, rec := onePublisherScenario(t, "scenario1_800k", linkConfig{rateBps: 800_000, delay: 20 * time.Millisecond}, 40*time.Second)
	rec.run(ctx, 15*time.Second)
	report(t, tb, rec)

	settled := rec.settledAt(0, func(s sample) bool { return s.recv[vsid] == 1 })
	if settled < 0 || settled > 5*time.Second {
		t.Errorf("middle layer not settled within 5 s (settled at %v)", settled)
	}
	if settled >= 0 {
		rows := rec.since(settled)
		loss := lossBetween(rows[0], rows[len(rows)-1])
		t.Logf("settled on the middle layer at %v; loss after: %.2f %%; freezes %d", settled, loss, rows[len(rows)-1].freezes)
		if loss >= 2 {
			t.Errorf("loss after settling %.2f %% >= 2 %%", loss)
		}
	}
}

func logTracks(t *testing.T, b *bot.Bot) {
	for _, tr := range b.Stats().Tracks {
		t.Logf("track %s %s: packets %d lost %d late %d padding %d frames %d incomplete %d decodable %d keyframes %d PLIs %d freezes %d (%v) %dx%d",
			tr.TrackSID, tr.Kind, tr.Packets, tr.Lost, tr.LatePackets, tr.PaddingPackets, tr.Frames, tr.Incomplete, tr.Decodable,
			tr.Keyframes, tr.PLIsSent, tr.Freezes, tr.FreezeTime, tr.Width, tr.Height)
	}
}

func logCounters(t *testing.T, tb *testbed) {
	c := tb.srv.SFU().Counters()
	t.Logf("server: in %d pkts, out %d pkts, dropped %d, write errors %d, keyframe reqs %d, PLIs %d, NACKs %d, switches %d",
		c.PacketsIn.Load(), c.PacketsOut.Load(), c.PacketsDropped.Load(), c.WriteErrors.Load(), c.KeyframeReqs.Load(),
		c.PLIsReceived.Load(), c.NACKsReceived.Load(), c.LayerSwitches.Load())
}

// firstAt is the time of the first sample from `from` on that satisfies ok,
// -1 if none.
func (r *recorder) firstAt(from time.Duration, ok func(sample) bool) time.Duration {
	for _, s := range r.since(from) {
		if ok(s) {
			return s.t
		}
	}
	return -1
}

// 2. 800 kbit/s, then 5 Mbit/s: the top layer within 10 s of the change.
func TestScenario2Up800kTo5M(t *testing.T) {
	ctx, tb, vsid, rec := onePublisherScenario(t, "scenario2_800k_to_5M", linkConfig{rateBps: 800_000, delay: 20 * time.Millisecond}, 40*time.Second)
	rec.run(ctx, 5*time.Second)
	change := rec.take().t
	tb.down.setRate(5_000_000)
	rec.run(ctx, 12*time.Second)
	report(t, tb, rec)

	top := rec.firstAt(change, func(s sample) bool { return s.recv[vsid] == 2 })
	if top < 0 {
		t.Errorf("never reached the top layer after the link went to 5 Mbit/s")
		return
	}
	rows := rec.since(top)
	t.Logf("top layer %v after the change; loss after: %.2f %%; freezes %d",
		top-change, lossBetween(rows[0], rows[len(rows)-1]), rows[len(rows)-1].freezes)
	if top-change > 10*time.Second {
		t.Errorf("top layer reached %v after the change, want <= 10 s", top-change)
	}
}

// 3. 5 Mbit/s, then 300 kbit/s: down to the lowest layer within 2 s, no
// freeze over 500 ms.
func TestScenario3Down5MTo300k(t *testing.T) {
	ctx, tb, vsid, rec := onePublisherScenario(t, "scenario3_5M_to_300k", linkConfig{rateBps: 5_000_000, delay: 20 * time.Millisecond}, 40*time.Second)
	for i := 0; i < 20 && rec.take().recv[vsid] != 2; i++ {
		rec.run(ctx, 500*time.Millisecond)
	}
	if rec.rows[len(rec.rows)-1].recv[vsid] != 2 {
		t.Errorf("top layer not reached at 5 Mbit/s within 10 s")
	}
	rec.run(ctx, 2*time.Second) // on the top layer for a while
	before := rec.take()
	tb.down.setRate(300_000)
	rec.run(ctx, 10*time.Second)
	report(t, tb, rec)

	down := rec.firstAt(before.t, func(s sample) bool { return s.recv[vsid] == 0 })
	last := rec.rows[len(rec.rows)-1]
	t.Logf("lowest layer %v after the drop; freezes after the drop %d; loss after: %.2f %%",
		down-before.t, last.freezes-before.freezes, lossBetween(before, last))
	if down < 0 || down-before.t > 2*time.Second {
		t.Errorf("not on the lowest layer within 2 s of the drop (at %v)", down-before.t)
	}
	if n := last.freezes - before.freezes; n > 0 {
		t.Errorf("%d freezes over 500 ms after the drop", n)
	}
}

// 5. 2 % random loss, 100 ms RTT, no cap: random loss is not congestion;
// the estimate stays above 2 Mbit/s.
func TestScenario5RandomLoss(t *testing.T) {
	ctx, tb, vsid, rec := onePublisherScenario(t, "scenario5_loss2_rtt100", linkConfig{delay: 100 * time.Millisecond, lossPct: 2}, 40*time.Second)
	rec.run(ctx, 18*time.Second)
	report(t, tb, rec)

	above := rec.settledAt(0, func(s sample) bool { return s.est > 2_000_000 })
	top := rec.firstAt(0, func(s sample) bool { return s.recv[vsid] == 2 })
	minEst := 0
	for i, s := range rec.since(5 * time.Second) {
		if i == 0 || s.est < minEst {
			minEst = s.est
		}
	}
	t.Logf("estimate above 2 Mbit/s from %v on; top layer at %v; lowest estimate after 5 s %d kbit/s",
		above, top, minEst/1000)
	if above < 0 || above > 8*time.Second {
		t.Errorf("estimate not above 2 Mbit/s from 8 s on (from %v; lowest after 5 s: %d kbit/s)", above, minEst/1000)
	}
}

// 4. Four publishers, 1.5 Mbit/s, one speaking: the speaker's video gets
// the best layer that fits, the others the lowest, audio is uninterrupted.
func TestScenario4FourPublishersSpeaker(t *testing.T) {
	scenario(t)
	tb := newTestbed(t, linkConfig{rateBps: 1_500_000, delay: 20 * time.Millisecond})
	ctx := deadline(t, 60*time.Second)
	speaking := func(time.Duration) bool { return true }
	silent := func(time.Duration) bool { return false }
	var vsids []string
	speakerSID, speakerPID := "", ""
	for i := range 4 {
		cfg := bot.Config{Room: "bwe", Identity: fmt.Sprintf("pub%d", i), Publish: true, Simulcast: true, Speaking: silent}
		if i == 2 {
			cfg.Speaking = speaking
		}
		p := tb.bot(ctx, cfg, nil)
		vsids = append(vsids, p.TrackSID("video"))
		if i == 2 {
			speakerSID, speakerPID = p.TrackSID("video"), p.Self().SID
		}
	}
	sub := tb.bot(ctx, bot.Config{Room: "bwe", Identity: "sub", Subscribe: true}, tb.subNet)
	if err := sub.WaitTracks(ctx, 8); err != nil {
		t.Fatalf("subscriber tracks: %v", err)
	}
	for _, v := range vsids {
		if err := sub.SetVideoSize(ctx, v, 1280, 720, -1); err != nil {
			t.Fatalf("setVideoSize: %v", err)
		}
	}
	t.Logf("video tracks %v, speaker %s", vsids, speakerSID)
	rec := tb.recorder("scenario4_four_publishers", sub)
	rec.run(ctx, 16*time.Second)
	report(t, tb, rec)

	want := func(s sample) bool {
		if s.recv[speakerSID] < 1 {
			return false
		}
		for _, v := range vsids {
			if v != speakerSID && s.recv[v] != 0 {
				return false
			}
		}
		return true
	}
	var doms []string
	for _, m := range sub.Events() {
		if m.Type == signaling.TypeActiveSpeakers && (len(doms) == 0 || doms[len(doms)-1] != m.Dominant) {
			doms = append(doms, m.Dominant)
		}
	}
	t.Logf("dominant speakers in turn %v (the speaker is %s)", doms, speakerPID)
	settled := rec.settledAt(0, want)
	last := rec.rows[len(rec.rows)-1]
	t.Logf("speaker on layer %d, others %v; settled at %v", last.recv[speakerSID], othersOf(last, vsids, speakerSID), settled)
	if settled < 0 || settled > 10*time.Second {
		t.Errorf("speaker not on a higher layer than the others (lowest) by 10 s (settled at %v)", settled)
	}
	// Audio is never cut: every audio track keeps arriving with < 1 % of
	// its packets lost for good.
	for _, tr := range sub.Stats().Tracks {
		if tr.Kind == "audio" && (tr.Packets == 0 || tr.LossPct >= 1) {
			t.Errorf("audio track %s: %d packets, %.2f %% lost", tr.TrackSID, tr.Packets, tr.LossPct)
		}
	}
}

func othersOf(s sample, vsids []string, speaker string) []int {
	var out []int
	for _, v := range vsids {
		if v != speaker {
			out = append(out, s.recv[v])
		}
	}
	return out
}

// 6. A link narrower than the lowest layer: 800 kbit/s, then 100 kbit/s
// (the lowest layer is about 150 kbit/s, the audio about 40). The video is
// paused within 5 s and the subscriber told so (subscriptionPaused), audio
// keeps arriving with < 5 % loss, and the video comes back within 15 s of
// the link returning to 800 kbit/s. This is how a subscriber that cannot
// keep up is degraded instead of having packets queued or dropped for it.
func TestScenario6PauseAndResume(t *testing.T) {
	ctx, tb, vsid, rec := onePublisherScenario(t, "scenario6_pause_resume", linkConfig{rateBps: 800_000, delay: 20 * time.Millisecond}, 60*time.Second)
	rec.run(ctx, 4*time.Second)
	narrow := rec.take()
	tb.down.setRate(100_000)
	rec.run(ctx, 10*time.Second)
	wide := rec.take()
	tb.down.setRate(800_000)
	rec.run(ctx, 16*time.Second)
	report(t, tb, rec)

	paused := rec.firstAt(narrow.t, func(s sample) bool { return s.paused[vsid] && s.recv[vsid] == -1 })
	if paused < 0 || paused > wide.t {
		t.Fatalf("video never paused (and the subscriber told) on the 100 kbit/s link")
	}
	t.Logf("video paused %v after the link narrowed", paused-narrow.t)
	if paused-narrow.t > 5*time.Second {
		t.Errorf("video paused %v after the link narrowed, want <= 5 s", paused-narrow.t)
	}
	// Audio alone from the pause on (plus a second for the queue the
	// video left in the link to drain).
	drained := rec.since(paused + time.Second)
	if len(drained) == 0 {
		t.Fatalf("no sample a second after the pause")
	}
	from := drained[0]
	audio := func(s sample) (n uint64) {
		for _, p := range s.audioPackets {
			n += p
		}
		return n
	}
	got := audio(wide) - audio(from)
	secs := (wide.t - from.t).Seconds()
	lost := max(wide.audioLost-from.audioLost, 0)
	loss := 100 * float64(lost) / float64(max(int64(got)+lost, 1))
	t.Logf("while paused: %d audio packets in %.1f s, audio loss %.2f %% (all tracks %.2f %%)", got, secs, loss, lossBetween(from, wide))
	if float64(got) < 40*secs { // 50 packets a second are sent
		t.Errorf("while paused: %d audio packets in %.1f s, want at least 40 a second", got, secs)
	}
	if loss >= 5 {
		t.Errorf("while paused: audio loss %.2f %%, want < 5 %%", loss)
	}
	// Each resume on the narrow link (the estimate crept up on audio
	// alone, or a probe got through a burst allowance) fills the queue
	// and is paused again; the probe backoff keeps them rare.
	resumes := 0
	rows := rec.since(paused)
	for i := 1; i < len(rows) && rows[i].t < wide.t; i++ {
		if rows[i].recv[vsid] >= 0 && rows[i-1].recv[vsid] < 0 {
			resumes++
		}
	}
	t.Logf("resumed %d times on the narrow link", resumes)
	back := rec.firstAt(wide.t, func(s sample) bool { return !s.paused[vsid] && s.recv[vsid] >= 0 })
	if back < 0 {
		t.Fatalf("video never resumed after the link returned to 800 kbit/s")
	}
	t.Logf("video back %v after the link widened (layer %d at the end)", back-wide.t, rec.rows[len(rec.rows)-1].recv[vsid])
	if back-wide.t > 15*time.Second {
		t.Errorf("video back %v after the link widened, want <= 15 s", back-wide.t)
	}
}
