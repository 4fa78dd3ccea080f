package bot

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
)

// Moving timing: how long a bot with fallback URLs keeps trying to resume
// on a node whose address answers, but not with a socket, before it joins
// afresh elsewhere (a refused connection moves it at once), and how long
// the republish on the new node may take.
const (
	moveAfter   = 2 * time.Second
	publishWait = 10 * time.Second
)

// movedError is a resume answered with redirect: the node no longer holds
// the session and the room lives elsewhere.
type movedError struct{ url string }

func (e *movedError) Error() string { return "bot: resume redirected to " + e.url }

// canMove tells whether a failed resume may end in a fresh join on another
// node instead of ending the bot.
func (b *Bot) canMove(err error) bool {
	var moved *movedError
	if errors.As(err, &moved) {
		return true
	}
	if len(b.cfg.FallbackURLs) == 0 || b.life.Err() != nil {
		return false
	}
	var refused *signaling.Error
	if errors.As(err, &refused) {
		// The token is refused: no node takes it.
		return refused.Code != signaling.CodeBadToken && refused.Code != signaling.CodeTokenExpired &&
			refused.Code != signaling.CodeForbidden
	}
	return true
}

// move joins the room afresh on another node: a draining node's redirect
// (to), or the node the bot was on is gone (to empty: try the configured
// URLs). The old session's peer connections are closed and new ones built;
// the bot republishes and the server subscribes it anew. It runs on the
// signaling reader, which serves the new link once move returns.
func (b *Bot) move(sig *Signal, to string) error {
	start := time.Now()
	b.state.Store(StateConnecting)
	b.notify.notify()
	b.partsMu.Lock()
	stop, oldPub, oldSub := b.stopSession, b.pub, b.sub
	b.partsMu.Unlock()
	stop()
	_ = oldPub.peer.close()
	_ = oldSub.peer.close()

	conn, reply, before, err := b.joinAnywhere(to)
	if err != nil {
		return err
	}
	sig.replace(conn)
	sess, pub, sub, err := b.build(sig, oldSub)
	if err != nil {
		return err
	}
	if err := b.joined(reply); err != nil {
		return err
	}
	// joined has woken the waiters already, with the move not yet
	// counted: one that saw Stats with StateJoined and the old Moves
	// waits again, so wake it once more (else it sleeps until some
	// unrelated change, or for good).
	b.moves.Add(1)
	b.notify.notify()
	b.log.Info("moved", "to", b.SignalURL(), "took", time.Since(start))
	for _, m := range before {
		b.handle(m)
	}
	b.runSubscriber(sess, sub)
	if b.cfg.Publish {
		// Publishing waits for replies the reader (our caller) serves.
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			ctx, cancel := context.WithTimeout(sess, publishWait)
			defer cancel()
			if err := pub.publish(ctx, sess, &b.wg, b.cfg, b.cfg.Identity); err != nil && sess.Err() == nil {
				b.log.Warn("republish after a move", "err", err)
			}
		}()
	}
	return nil
}

// joinAnywhere dials and joins through to (if set), then the configured
// URLs, the node the bot was on last, with pauses between rounds, until a
// join succeeds or the resume window passes.
func (b *Bot) joinAnywhere(to string) (link, *signaling.Message, []*signaling.Message, error) {
	last := b.SignalURL()
	var urls []string
	if to != "" {
		urls = append(urls, to)
	}
	for _, u := range append([]string{b.cfg.URL}, b.cfg.FallbackURLs...) {
		if u != last && u != to {
			urls = append(urls, u)
		}
	}
	if to == "" {
		urls = append(urls, last)
	}
	window := b.cfg.ResumeWindow
	if window <= 0 {
		window = 30 * time.Second
	}
	start, pause := time.Now(), resumeFirstPause
	var err error
	for {
		for _, u := range urls {
			ctx, cancel := context.WithTimeout(b.life, resumeDialWait)
			conn, reply, before, jerr := b.dialJoin(ctx, u)
			cancel()
			if jerr == nil {
				return conn, reply, before, nil
			}
			err = jerr
			b.log.Info("re-join failed", "url", u, "err", err)
			var refused *signaling.Error
			if errors.As(err, &refused) && !b.canMove(err) {
				return nil, nil, nil, err
			}
		}
		if time.Since(start) > window {
			return nil, nil, nil, fmt.Errorf("re-join gave up after %v: %w", window, err)
		}
		t := time.NewTimer(pause)
		select {
		case <-b.life.Done():
			t.Stop()
			return nil, nil, nil, ErrClosed
		case <-t.C:
		}
		pause = min(2*pause, resumeMaxPause)
	}
}

// nodeGone tells whether a failed resume dial means the node is not there
// any more (nothing listens at its address).
func nodeGone(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
