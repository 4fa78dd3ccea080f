package e2e

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// dataBot connects a bot without media whose token holds grants, and
// waits for its data channels.
func dataBot(ctx context.Context, t *testing.T, srv *server, room, identity string, grants signaling.Grants, tweak func(*bot.Config)) *bot.Bot {
	t.Helper()
	tok, err := signaling.NewToken(signaling.DevAPIKey, signaling.DevAPISecret, room, identity, identity, grants, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := bot.Config{URL: srv.url, Token: tok, Identity: identity, Media: clips(t)}
	if tweak != nil {
		tweak(&cfg)
	}
	b, err := bot.New(cfg)
	if err != nil {
		t.Fatalf("bot %s: %v", identity, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Connect(ctx); err != nil {
		t.Fatalf("bot %s connect: %v", identity, err)
	}
	if err := b.WaitDataOpen(ctx); err != nil {
		t.Fatalf("bot %s data channels: %v", identity, err)
	}
	return b
}

// A targeted message reaches only the participants it names, on the
// channel it was sent on; a broadcast reaches everyone else.
func TestDataTargetedAndBroadcast(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	a := dataBot(ctx, t, srv, "data", "a", signaling.AllGrants(), nil)
	b := dataBot(ctx, t, srv, "data", "b", signaling.AllGrants(), nil)
	c := dataBot(ctx, t, srv, "data", "c", signaling.AllGrants(), nil)
	bSID := b.Self().SID
	payload := []byte{0, 1, 2, 0xff, 0xfe, 0} // binary-safe
	for _, lossy := range []bool{false, true} {
		if _, err := a.SendData(ctx, bot.DataSend{To: []string{bSID}, Topic: "secret", Payload: payload, Lossy: lossy}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.SendData(ctx, bot.DataSend{Topic: "all", Payload: []byte("hello room"), Text: true}); err != nil {
		t.Fatal(err)
	}
	// Messages from one sender on the reliable channel arrive in order:
	// the broadcast arriving at b and c means the targeted one was handled.
	for _, r := range []*bot.Bot{b, c} {
		got, err := r.WaitData(ctx, 1, func(m bot.DataMessage) bool { return m.Topic == "all" })
		if err != nil {
			t.Fatalf("broadcast not received: %v", err)
		}
		if m := got[0]; m.From != a.Self().SID || string(m.Payload) != "hello room" || !m.Text || m.Lossy {
			t.Errorf("broadcast received as %+v", m)
		}
	}
	got, err := b.WaitData(ctx, 2, func(m bot.DataMessage) bool { return m.Topic == "secret" })
	if err != nil {
		t.Fatalf("targeted messages: %v", err)
	}
	lossySeen := false
	for _, m := range got {
		if !bytes.Equal(m.Payload, payload) || m.From != a.Self().SID {
			t.Errorf("targeted message arrived as %+v", m)
		}
		lossySeen = lossySeen || m.Lossy
	}
	if !lossySeen {
		t.Error("the lossy copy did not arrive on the lossy channel")
	}
	for _, m := range c.DataMessages() {
		if m.Topic == "secret" {
			t.Errorf("c received a message targeted at b: %+v", m)
		}
	}
	for _, m := range a.DataMessages() {
		t.Errorf("the sender received its own message: %+v", m)
	}
	// An unknown destination is reported; the known one still gets it.
	seq, err := a.SendData(ctx, bot.DataSend{To: []string{"PA_NOBODY", bSID}, Topic: "partly"})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := a.WaitDataError(ctx, seq); err != nil || e.Code != sfu.DataCodeNotFound {
		t.Errorf("unknown destination: %+v, %v", e, err)
	}
	if _, err := b.WaitData(ctx, 1, func(m bot.DataMessage) bool { return m.Topic == "partly" }); err != nil {
		t.Errorf("known destination of a partly wrong list: %v", err)
	}
}

// Data from a participant whose token lacks canPublishData is refused with
// a forbidden error and reaches nobody; a payload over the configured
// limit is refused with too_large.
func TestDataRefusals(t *testing.T) {
	srv := startServer(t, func(c *app.Config) { c.Data.MaxMessageSize = 1024 })
	ctx := deadline(t, 30*time.Second)
	noData := signaling.AllGrants()
	noData.CanPublishData = false
	mute := dataBot(ctx, t, srv, "refuse", "mute", noData, nil)
	talker := dataBot(ctx, t, srv, "refuse", "talker", signaling.AllGrants(), nil)
	listener := dataBot(ctx, t, srv, "refuse", "listener", signaling.AllGrants(), nil)
	cases := []struct {
		name  string
		from  *bot.Bot
		size  int
		lossy bool
		code  string
	}{
		{"without canPublishData", mute, 10, false, sfu.DataCodeForbidden},
		{"without canPublishData, lossy", mute, 10, true, sfu.DataCodeForbidden},
		{"over the size limit", talker, 1025, false, sfu.DataCodeTooLarge},
		{"over the size limit, lossy", talker, 4000, true, sfu.DataCodeTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seq, err := c.from.SendData(ctx, bot.DataSend{Topic: "refused", Payload: make([]byte, c.size), Lossy: c.lossy})
			if err != nil {
				t.Fatal(err)
			}
			e, err := c.from.WaitDataError(ctx, seq)
			if err != nil {
				t.Fatalf("no error envelope: %v", err)
			}
			if e.Code != c.code {
				t.Errorf("code %q (%s), want %q", e.Code, e.Message, c.code)
			}
		})
	}
	// At the limit passes, and the refused ones never arrived before it.
	if _, err := talker.SendData(ctx, bot.DataSend{Topic: "fits", Payload: make([]byte, 1024)}); err != nil {
		t.Fatal(err)
	}
	if _, err := listener.WaitData(ctx, 1, func(m bot.DataMessage) bool { return m.Topic == "fits" }); err != nil {
		t.Fatalf("a message at the limit: %v", err)
	}
	for _, m := range listener.DataMessages() {
		if m.Topic == "refused" {
			t.Errorf("a refused message was delivered: %d bytes from %s", len(m.Payload), m.From)
		}
	}
}
