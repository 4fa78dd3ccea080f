package bwe

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
)

// fileSize is scenario 7's transfer: about 5 s of the link's spare
// capacity beside the top layer.
const fileSize = 768 << 10

// 7. A file sent to the subscriber during the call, on a 2.5 Mbit/s link
// that carries the top layer: the transfer's SCTP traffic shares the link
// with the video but is invisible to GCC (which sees RTP). Media comes
// first: the video stays on the top layer, the audio is not lost, and the
// file takes what is left (sfu's data pacer, docs/bwe.md). Unpaced, SCTP's
// loss-based control took 2 of the 2.5 Mbit/s and the video sat on its
// lowest layer for most of the transfer.
func TestScenario7FileOnCappedLink(t *testing.T) {
	scenario(t)
	tb := newTestbed(t, linkConfig{rateBps: 2_500_000, delay: 20 * time.Millisecond})
	ctx := deadline(t, 90*time.Second)
	var got atomic.Int64
	done := make(chan struct{})
	pub, sub, vsid := onePublisher(ctx, t, tb, func(m bot.DataMessage) {
		if m.Topic == "file" && got.Add(int64(len(m.Payload))) == fileSize {
			close(done)
		}
	})
	for _, b := range []*bot.Bot{pub, sub} {
		if err := b.WaitDataOpen(ctx); err != nil {
			t.Fatalf("data channels: %v", err)
		}
	}
	rec := tb.recorder("scenario7_file", sub)
	rec.run(ctx, 10*time.Second)
	before := rec.take()

	to := []string{sub.Self().SID}
	sendErr := make(chan error, 1)
	go func() {
		chunk := make([]byte, 16<<10)
		for sent := 0; sent < fileSize; sent += len(chunk) {
			if _, err := pub.SendData(ctx, bot.DataSend{To: to, Topic: "file", Payload: chunk}); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- nil
	}()
	start := time.Now()
	rec.until(ctx, done)
	if err := <-sendErr; err != nil {
		t.Fatalf("sending the file: %v", err)
	}
	if got.Load() != fileSize {
		t.Fatalf("file: %d of %d bytes arrived", got.Load(), fileSize)
	}
	took := time.Since(start)
	during := rec.take()
	rec.run(ctx, 11*time.Second)
	after := rec.take()
	report(t, tb, rec)

	layers := map[int]int{}
	rows := rec.since(before.t)
	for _, s := range rows {
		if s.t > during.t {
			break
		}
		layers[s.recv[vsid]]++
	}
	t.Logf("file: %d KiB in %v (%.0f kbit/s)", fileSize>>10, took.Round(time.Millisecond), float64(fileSize*8)/took.Seconds()/1000)
	t.Logf("video during the transfer: samples per layer %v; freezes %d; loss %.2f %%", layers, during.freezes-before.freezes, lossBetween(before, during))
	t.Logf("after: layer %d at the end, freezes %d, loss %.2f %%", after.recv[vsid], after.freezes-during.freezes, lossBetween(during, after))
	audioLost := during.audioLost - before.audioLost
	var audio uint64
	for id, n := range during.audioPackets {
		audio += n - before.audioPackets[id]
	}
	loss := 100 * float64(audioLost) / float64(max(int64(audio)+audioLost, 1))
	t.Logf("audio during the transfer: %d packets, %d lost (%.2f %%)", audio, audioLost, loss)
	if loss >= 5 {
		t.Errorf("audio loss during the transfer %.2f %%, want < 5 %%", loss)
	}
	if took > 30*time.Second {
		t.Errorf("the file took %v, want <= 30 s", took)
	}
	total := 0
	for _, n := range layers {
		total += n
	}
	if layers[2] < total*9/10 {
		t.Errorf("video on the top layer in %d of %d samples during the transfer, want >= 90 %%", layers[2], total)
	}
	top := rec.firstAt(during.t, func(s sample) bool { return s.recv[vsid] == 2 })
	if top < 0 || top-during.t > 10*time.Second {
		t.Errorf("video not back on the top layer within 10 s of the transfer's end (at %v)", top-during.t)
	} else {
		t.Logf("video back on the top layer %v after the transfer", (top - during.t).Round(100*time.Millisecond))
	}
}
