package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/hibiki-sfu/hibiki/signaling"
)

func enterLobby(ctx context.Context, t *testing.T, srv *server, identity string) *bot.Lobby {
	t.Helper()
	tok, err := bot.LobbyToken("lobby", identity)
	if err != nil {
		t.Fatal(err)
	}
	l, err := bot.DialLobby(ctx, srv.url, tok, nil)
	if err != nil {
		t.Fatalf("%s enters the lobby: %v", identity, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func presence(identity, state string) func(*signaling.Message) bool {
	return func(m *signaling.Message) bool {
		return m.Type == signaling.TypePresence && m.User != nil && m.User.Identity == identity && m.User.State == state
	}
}

func ofType(typ string) func(*signaling.Message) bool {
	return func(m *signaling.Message) bool { return m.Type == typ }
}

// alice invites bob from the lobby. Accepted, both land in a fresh room
// with the tokens the server minted, see each other there and talk over
// data; carol watches both turn "in_call". Rejected or unanswered (a short
// timeout here), alice is told.
func TestInvites(t *testing.T) {
	srv := startServer(t, func(c *app.Config) { c.Lobby.InviteTimeout = 300 * time.Millisecond })
	t.Run("accept", func(t *testing.T) {
		ctx := deadline(t, 30*time.Second)
		alice := enterLobby(ctx, t, srv, "alice")
		bob := enterLobby(ctx, t, srv, "bob")
		carol := enterLobby(ctx, t, srv, "carol")
		id, err := alice.Invite(ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		ring, err := bob.WaitMessage(ctx, ofType(signaling.TypeInvited))
		if err != nil || ring.InviteID != id || ring.From.Identity != "alice" {
			t.Fatalf("bob's ring: %+v, %v", ring, err)
		}
		if err := bob.Answer(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		calls := map[string]*signaling.Message{}
		for name, l := range map[string]*bot.Lobby{"alice": alice, "bob": bob} {
			m, err := l.WaitMessage(ctx, ofType(signaling.TypeInviteAccepted))
			if err != nil {
				t.Fatalf("%s not told of the call: %v", name, err)
			}
			calls[name] = m
		}
		if calls["alice"].Room != calls["bob"].Room {
			t.Fatalf("alice in %q, bob in %q", calls["alice"].Room, calls["bob"].Room)
		}
		join := func(name string) *bot.Bot {
			b, err := bot.New(bot.Config{URL: srv.url, Token: calls[name].Token, Identity: name, Media: clips(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			if err := b.Connect(ctx); err != nil {
				t.Fatalf("%s joins the call: %v", name, err)
			}
			if err := b.WaitDataOpen(ctx); err != nil {
				t.Fatal(err)
			}
			return b
		}
		a, b := join("alice"), join("bob")
		if err := a.WaitParticipants(ctx, 1); err != nil {
			t.Fatalf("alice alone in the call: %v", err)
		}
		if _, err := a.SendData(ctx, bot.DataSend{Topic: "hello", Payload: []byte("hi bob")}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.WaitData(ctx, 1, func(m bot.DataMessage) bool { return m.Topic == "hello" }); err != nil {
			t.Fatalf("bob got nothing from alice in the call: %v", err)
		}
		for _, who := range []string{"alice", "bob"} {
			if _, err := carol.WaitMessage(ctx, presence(who, signaling.StateInCall)); err != nil {
				t.Errorf("carol never saw %s in a call: %v", who, err)
			}
		}
		if err := a.Leave(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := carol.WaitMessage(ctx, presence("alice", signaling.StateAvailable)); err != nil {
			t.Errorf("carol never saw alice available after the call: %v", err)
		}
	})
	for _, c := range []struct {
		name   string
		answer func(ctx context.Context, bob *bot.Lobby, id string) error
		reason string
	}{
		{"reject", func(ctx context.Context, bob *bot.Lobby, id string) error { return bob.Answer(ctx, id, false) }, signaling.ReasonRejected},
		{"timeout", func(context.Context, *bot.Lobby, string) error { return nil }, signaling.ReasonTimeout},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := deadline(t, 10*time.Second)
			alice := enterLobby(ctx, t, srv, "alice-"+c.name)
			bob := enterLobby(ctx, t, srv, "bob-"+c.name)
			id, err := alice.Invite(ctx, "bob-"+c.name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bob.WaitMessage(ctx, ofType(signaling.TypeInvited)); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := c.answer(ctx, bob, id); err != nil {
				t.Fatal(err)
			}
			m, err := alice.WaitMessage(ctx, ofType(signaling.TypeInviteEnded))
			if err != nil {
				t.Fatalf("alice not told: %v", err)
			}
			if m.InviteID != id || m.Reason != c.reason {
				t.Errorf("alice told %+v, want reason %s", m, c.reason)
			}
			if c.reason == signaling.ReasonTimeout && time.Since(start) < 250*time.Millisecond {
				t.Errorf("timed out after %v, configured 300 ms", time.Since(start))
			}
		})
	}
}
