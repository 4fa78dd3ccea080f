package e2e

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/webrtc/v4"
)

// On a link that loses a quarter of the packets toward the receiver, lossy
// messages arrive in part and a lost one never arrives later (no
// retransmission, maxRetransmits 0), while reliable messages sent
// alongside all arrive: the association itself recovers from the loss.
func TestLossyDataUnderLoss(t *testing.T) {
	const lossPercent = 25
	srv := startServer(t, nil)
	ctx := deadline(t, 40*time.Second)
	link, err := newLossyNet(lossPercent, 1)
	if err != nil {
		t.Fatal(err)
	}
	sender := dataBot(ctx, t, srv, "loss", "sender", signaling.AllGrants(), nil)
	receiver := dataBot(ctx, t, srv, "loss", "receiver", signaling.AllGrants(), func(c *bot.Config) {
		c.ConfigureAPI = func(se *webrtc.SettingEngine) { se.SetNet(link) }
	})
	link.on.Store(true)
	to := []string{receiver.Self().SID}
	const n = 300
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for i := range uint32(n) {
		<-tick.C
		seq := binary.BigEndian.AppendUint32(nil, i)
		if _, err := sender.SendData(ctx, bot.DataSend{To: to, Topic: "pos", Payload: seq, Lossy: true}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if _, err := sender.SendData(ctx, bot.DataSend{To: to, Topic: "state", Payload: seq}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The reliable messages, sent through the whole burst, arrive only
	// once SCTP has recovered every loss of the association; a lossy
	// message that was going to be retransmitted would be there by then.
	if _, err := receiver.WaitData(ctx, n/10, func(m bot.DataMessage) bool { return m.Topic == "state" }); err != nil {
		t.Fatalf("reliable messages under %d%% loss: %v", lossPercent, err)
	}
	seen := map[uint32]int{}
	for _, m := range receiver.DataMessages() {
		if m.Topic == "pos" {
			if !m.Lossy {
				t.Fatalf("a lossy message arrived on the reliable channel")
			}
			seen[binary.BigEndian.Uint32(m.Payload)]++
		}
	}
	for seq, c := range seen {
		if c > 1 {
			t.Errorf("lossy message %d arrived %d times", seq, c)
		}
	}
	got := len(seen)
	t.Logf("%d%% inbound loss (%d packets dropped, %d passed): %d of %d lossy messages arrived, all %d reliable ones",
		lossPercent, link.dropped.Load(), link.passed.Load(), got, n, n/10)
	if got == n {
		t.Fatalf("every lossy message arrived through %d%% loss: they were retransmitted", lossPercent)
	}
	// 75 % expected; a retransmitting channel would approach 100 %.
	if got < n*55/100 || got > n*90/100 {
		t.Errorf("%d of %d lossy messages arrived, want about %d%%", got, n, 100-lossPercent)
	}
}
