package browser

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// setMic mutes or unmutes b's microphone through the library.
func setMic(ctx context.Context, t *testing.T, b *browser, muted bool) {
	t.Helper()
	b.mustEval(ctx, fmt.Sprintf(`window.hibikiRoom.setMuted(window.hibikiApp.conference.pubs.mic, %v).then(() => true)`, muted), nil)
}

// waitDominant waits until b's page marks the face tile of the participant
// named name (or b's own tile, for "") as the dominant speaker, and returns
// how long that took.
func waitDominant(ctx context.Context, t *testing.T, b *browser, name string) time.Duration {
	t.Helper()
	tile := `document.querySelector('.tile[data-kind="face"][data-local="true"]')`
	if name != "" {
		tile = faceTile(name)
	}
	start := time.Now()
	b.waitFor(ctx, fmt.Sprintf("%q marked as the dominant speaker", name),
		`(() => { const t = `+tile+`; return t && t.dataset.dominant === 'true'
			&& document.querySelectorAll('.tile[data-dominant="true"]').length === 1; })()`, 8*time.Second)
	return time.Since(start)
}

// dominantSpeaker has only one of alice and bob unmuted at a time (both
// send the same speech-like clip): the server's dominant-speaker detection,
// through the library's dominantSpeakerChanged, marks the speaking one's
// tile on both pages, and follows when they swap. The level ring of the
// speaker's tile moves with the RFC 6464 levels of the forwarded packets,
// and the speaker layout shows the dominant speaker large.
func dominantSpeaker(ctx context.Context, t *testing.T, alice, bob *browser) {
	t.Run("the dominant speaker's tile is marked and follows the talker", func(t *testing.T) {
		// Both talked until now, the same clip: either may be dominant.
		// Alice stops; once her last second of speech has left the
		// detector's window, Bob alone holds the role.
		setMic(ctx, t, alice, true)
		setMic(ctx, t, bob, false)
		first := waitDominant(ctx, t, alice, "Bob")
		waitDominant(ctx, t, bob, "")
		sleep(ctx, 1500*time.Millisecond)
		stillBob := `(() => { const t = ` + faceTile("Bob") + `; return t.dataset.dominant === 'true'; })()`
		var ok bool
		alice.mustEval(ctx, stillBob, &ok)
		if !ok {
			t.Fatalf("Bob lost the dominant role while Alice was muted")
		}

		setMic(ctx, t, bob, true)
		setMic(ctx, t, alice, false)
		swap := waitDominant(ctx, t, bob, "Alice")
		waitDominant(ctx, t, alice, "")
		t.Logf("dominant speaker on the other page: Bob %v after Alice's mute (he may have been dominant already), Alice %v after the swap",
			first.Round(time.Millisecond), swap.Round(time.Millisecond))

		bob.waitFor(ctx, "Alice's level ring moving", `(() => {
			const t = `+faceTile("Alice")+`;
			return Number(t.dataset.level) >= 0.2;
		})()`, 5*time.Second)
		var bobLevel float64
		bob.mustEval(ctx, `Number(document.querySelector('.tile[data-local="true"]').dataset.level)`, &bobLevel)
		if bobLevel > 0 {
			t.Errorf("Bob's own level ring at %.1f while his microphone is muted", bobLevel)
		}

		click(ctx, t, bob, "#btn-layout")
		bob.waitFor(ctx, "Alice's tile large in the speaker layout", `(() => {
			const a = `+faceTile("Alice")+`;
			const me = document.querySelector('.tile[data-local="true"]');
			return a.dataset.featured === 'true' && a.getBoundingClientRect().width > 1.5 * me.getBoundingClientRect().width;
		})()`, 5*time.Second)
		click(ctx, t, bob, "#btn-layout")
		bob.waitFor(ctx, "back to the grid", faceTile("Alice")+`.dataset.featured === 'false'`, 5*time.Second)
		setMic(ctx, t, bob, false)
	})
}
