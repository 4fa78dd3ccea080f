package browser

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
)

// screenshotPath is where the conference screenshot goes (gitignored); a
// copy of one is docs/screenshot.png.
const screenshotPath = "../out/conference.png"

// withBot adds a pion bot (cmd/hibiki-bots/bot) publishing a simulcast
// camera and a microphone and subscribing to everything, checks that both
// browsers decode it and that it receives both browsers, then saves a
// screenshot of alice's page with the three participants.
func withBot(ctx context.Context, t *testing.T, srv *server, room string, alice, bob *browser) {
	t.Helper()
	t.Run("a bot and the browsers see each other", func(t *testing.T) {
		b, err := bot.New(bot.Config{
			URL:       "ws" + strings.TrimPrefix(srv.base, "http") + "/ws",
			Room:      room,
			Identity:  "Bot",
			Publish:   true,
			Simulcast: true,
			Subscribe: true,
			AllowIPs:  []netip.Prefix{netip.MustParsePrefix(serverIP + "/24")},
		})
		if err != nil {
			t.Fatalf("new bot: %v", err)
		}
		t.Cleanup(func() {
			if err := b.Close(); err != nil {
				t.Logf("close bot: %v", err)
			}
		})
		if err := b.Connect(ctx); err != nil {
			t.Fatalf("bot connect: %v", err)
		}
		for _, br := range []*browser{alice, bob} {
			waitMedia(ctx, t, br, "Bot", "camera")
			waitMedia(ctx, t, br, "Bot", "microphone")
			br.waitFor(ctx, "the bot's tile shows video", faceTile("Bot")+`.dataset.hasVideo === 'true'`, 5*time.Second)
		}
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := b.WaitTracks(wctx, 4); err != nil {
			t.Fatalf("bot receives %d tracks of the browsers, want 4: %v", b.Stats().Totals.TracksReceiving, err)
		}
		sleep(ctx, 2*time.Second)
		s := b.Stats()
		for _, tr := range s.Tracks {
			if tr.Ended {
				continue
			}
			t.Logf("bot receives %s %s: %d packets, %d frames (%d decodable), %dx%d, %d freezes",
				tr.Kind, tr.TrackSID, tr.Packets, tr.Frames, tr.Decodable, tr.Width, tr.Height, tr.Freezes)
			if tr.Kind == "video" && tr.Decodable == 0 {
				t.Errorf("bot: no decodable frame of %s", tr.TrackSID)
			}
		}
		alice.waitFor(ctx, "the bot's speaking indicator", faceTile("Bot")+`.dataset.speaking === 'true'`, 10*time.Second)
		saveScreenshot(ctx, t, alice)
	})
}

// saveScreenshot writes alice's page, with the stats panel open, to
// e2e/out/conference.png.
func saveScreenshot(ctx context.Context, t *testing.T, b *browser) {
	t.Helper()
	click(ctx, t, b, "#btn-stats")
	defer click(ctx, t, b, "#btn-stats")
	b.waitFor(ctx, "three tiles with video", `document.querySelectorAll('.tile[data-kind="face"][data-has-video="true"]').length === 3`, 10*time.Second)
	sleep(ctx, 2*time.Second) // let the graphs draw a few points
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(screenshotPath), 0o755); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(screenshotPath, png, 0o644); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("screenshot of %s's page with three participants: e2e/out/conference.png", b.name)
}
