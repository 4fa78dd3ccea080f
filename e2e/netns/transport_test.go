package netns

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
	"github.com/pion/webrtc/v4"
)

// Two participants' four connections all use the one media UDP port.
func TestOneUDPPortForAll(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	a := newBot(ctx, t, srv, "port", "a", botOpts{ip: botA, publish: true, subscribe: true})
	b := newBot(ctx, t, srv, "port", "b", botOpts{ip: botB, publish: true, subscribe: true})
	waitMoreFrames(ctx, t, "a", a, 30)
	waitMoreFrames(ctx, t, "b", b, 30)
	for _, x := range []struct {
		name string
		p    map[string]*webrtc.ICECandidatePair
	}{{"a", serverPairs(t, srv, "port", a)}, {"b", serverPairs(t, srv, "port", b)}} {
		if len(x.p) != 2 {
			t.Fatalf("%s: %d server connections selected a pair, want 2", x.name, len(x.p))
		}
		for target, pair := range x.p {
			if pair.Local.Port != 7882 || pair.Local.Protocol != webrtc.ICEProtocolUDP || pair.Local.Address != serverIP {
				t.Errorf("%s %s: server side %s, want udp %s:7882", x.name, target, pair.Local, serverIP)
			}
		}
	}
}

// A bot whose UDP is dropped joins over ICE-TCP on 7881.
func TestICETCPWhenUDPBlocked(t *testing.T) {
	srv := startServer(t, nil)
	fw := newFirewall(t)
	fw.blockUDP(botA)
	ctx := deadline(t, 30*time.Second)
	other := newBot(ctx, t, srv, "tcp", "other", botOpts{ip: botB, publish: true, subscribe: true})
	blocked := newBot(ctx, t, srv, "tcp", "blocked", botOpts{ip: botA, publish: true, subscribe: true, tcp: true})
	waitMoreFrames(ctx, t, "blocked", blocked, 30)
	waitMoreFrames(ctx, t, "other", other, 30)
	for target, pair := range serverPairs(t, srv, "tcp", blocked) {
		if pair.Local.Protocol != webrtc.ICEProtocolTCP || pair.Local.Port != 7881 {
			t.Errorf("%s: server side %s, want tcp :7881", target, pair.Local)
		}
	}
	for target, pair := range pairs(t, blocked) {
		if pair.Remote.Protocol != webrtc.ICEProtocolTCP {
			t.Errorf("%s: bot pair %s, want tcp", target, pair)
		}
	}
}

// With ICE-TCP off, a bot whose UDP is dropped gets through over TURN/TCP:
// its candidates are relayed, and so are the server's remote ones.
func TestTURNOverTCPWhenUDPBlocked(t *testing.T) {
	srv := startServer(t, func(c *app.Config) {
		c.RTC.TCPPort = 0
		withTURN(c)
	})
	fw := newFirewall(t)
	fw.blockUDP(botA)
	ctx := deadline(t, 30*time.Second)
	other := newBot(ctx, t, srv, "turn", "other", botOpts{ip: botB, publish: true, subscribe: true})
	blocked := newBot(ctx, t, srv, "turn", "blocked", botOpts{ip: botA, publish: true, subscribe: true})
	waitMoreFrames(ctx, t, "blocked", blocked, 30)
	waitMoreFrames(ctx, t, "other", other, 30)
	assertRelayed(t, srv, "turn", "blocked", blocked)
	if n := srv.app.TURN().Allocations(); n < 2 {
		t.Errorf("%d TURN allocations, want one per connection of the blocked bot", n)
	}
}

// A relay-only room tells clients iceTransportPolicy relay and connects
// every participant through TURN, though direct UDP would work.
func TestRelayOnlyRoom(t *testing.T) {
	srv := startServer(t, withTURN)
	room, err := srv.app.SFU().CreateRoom("relay")
	if err != nil {
		t.Fatal(err)
	}
	room.SetRelayOnly(true)
	ctx := deadline(t, 30*time.Second)
	a := newBot(ctx, t, srv, "relay", "a", botOpts{ip: botA, publish: true, subscribe: true})
	b := newBot(ctx, t, srv, "relay", "b", botOpts{ip: botB, publish: true, subscribe: true})
	waitMoreFrames(ctx, t, "a", a, 30)
	waitMoreFrames(ctx, t, "b", b, 30)
	for name, bt := range map[string]*bot.Bot{"a": a, "b": b} {
		joined := bt.Events()[0]
		if joined.ICETransportPolicy != "relay" {
			t.Errorf("%s: joined iceTransportPolicy %q, want relay", name, joined.ICETransportPolicy)
		}
		assertRelayed(t, srv, "relay", name, bt)
	}
}

// A participant connected directly is removed when its room becomes
// relay-only; one that ignores the relay policy never gets a direct pair.
func TestRelayOnlyEnforced(t *testing.T) {
	srv := startServer(t, withTURN)
	ctx := deadline(t, 30*time.Second)
	direct := newBot(ctx, t, srv, "enforce", "direct", botOpts{ip: botA, publish: true})
	watcher := newBot(ctx, t, srv, "enforce", "watcher", botOpts{ip: botB, subscribe: true})
	if err := watcher.WaitTracks(ctx, 2); err != nil {
		t.Fatal(err)
	}
	srv.app.SFU().Room("enforce").SetRelayOnly(true)
	for _, b := range []*bot.Bot{direct, watcher} {
		select {
		case <-b.Done():
		case <-ctx.Done():
			t.Fatal("direct participant not removed from the relay-only room")
		}
	}
	rogue := newBot(ctx, t, srv, "enforce", "rogue", botOpts{ip: botB, publish: true, edit: func(c *bot.Config) { c.IgnoreRelayPolicy = true }})
	watcher2 := newBot(ctx, t, srv, "enforce", "watcher2", botOpts{ip: botA, subscribe: true})
	if err := watcher2.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("media of a client ignoring the relay policy: %v", err)
	}
	for target, pair := range serverPairs(t, srv, "enforce", rogue) {
		if pair.Remote.Typ != webrtc.ICECandidateTypeRelay {
			t.Errorf("%s: server accepted %s in a relay-only room", target, pair)
		}
	}
}

// IPv6: with an IPv6 address in rtc.ips, media runs over IPv6.
func TestIPv6(t *testing.T) {
	srv := startServer(t, func(c *app.Config) { c.RTC.IPs = []string{serverIP, serverIP6} })
	ctx := deadline(t, 30*time.Second)
	v6 := func(own string) func(*bot.Config) {
		return func(c *bot.Config) {
			prev := c.ConfigureAPI
			c.ConfigureAPI = func(se *webrtc.SettingEngine) {
				prev(se)
				se.SetIPFilter(func(ip net.IP) bool { return ip.String() == own })
				se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP6})
			}
		}
	}
	a := newBot(ctx, t, srv, "v6", "a", botOpts{ip: botA, publish: true, subscribe: true, edit: v6(botA6)})
	b := newBot(ctx, t, srv, "v6", "b", botOpts{ip: botB, publish: true, subscribe: true, edit: v6(botB6)})
	waitMoreFrames(ctx, t, "a", a, 30)
	waitMoreFrames(ctx, t, "b", b, 30)
	for _, bt := range []*bot.Bot{a, b} {
		for target, pair := range serverPairs(t, srv, "v6", bt) {
			if pair.Local.Address != serverIP6 || !strings.HasPrefix(pair.Remote.Address, "fd77::") {
				t.Errorf("%s: pair %s is not on the IPv6 addresses", target, pair)
			}
		}
	}
}

// assertRelayed checks both ends of both of b's connections: the bot
// sends from a relay candidate, the server sees a relay candidate.
func assertRelayed(t *testing.T, srv *server, room, name string, b *bot.Bot) {
	t.Helper()
	bp, sp := pairs(t, b), serverPairs(t, srv, room, b)
	if len(bp) == 0 || len(sp) == 0 {
		t.Fatalf("%s: no selected pairs (bot %d, server %d)", name, len(bp), len(sp))
	}
	for target, pair := range bp {
		if pair.Local.Typ != webrtc.ICECandidateTypeRelay {
			t.Errorf("%s %s: bot pair %s, want a local relay candidate", name, target, pair)
		}
	}
	for target, pair := range sp {
		if pair.Remote.Typ != webrtc.ICECandidateTypeRelay {
			t.Errorf("%s %s: server pair %s, want a remote relay candidate", name, target, pair)
		}
	}
}
