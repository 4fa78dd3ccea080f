package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
)

// Resume timing: a new socket is tried at once, then with doubling pauses.
const (
	resumeFirstPause = 100 * time.Millisecond
	resumeMaxPause   = 2 * time.Second
	resumeDialWait   = 5 * time.Second
	recoverWait      = 10 * time.Second
)

// ErrNotResumed is returned when the server no longer knew the session.
var ErrNotResumed = errors.New("bot: session not resumed")

// readSignal runs the signaling reader for the bot's life: when a socket
// drops, it resumes the session on a new one (docs/protocol.md, "Resume");
// when the node redirects the session, or is gone and the bot has fallback
// URLs, it joins afresh on another node (move).
func (b *Bot) readSignal(sig *Signal) {
	defer sig.shutdown()
	for {
		err := sig.readLoop(b.handle)
		if b.life.Err() != nil || b.leaving.Load() {
			return
		}
		to := b.moveTo
		b.moveTo = ""
		if to == "" {
			rerr := b.tryResume(sig, err)
			if rerr == nil {
				continue
			}
			var moved *movedError
			if errors.As(rerr, &moved) {
				to = moved.url
			} else if !b.canMove(rerr) || b.SessionID() == "" {
				b.end(fmt.Errorf("signaling ended: %w; resume: %w", err, rerr))
				return
			}
			b.log.Info("session lost, joining afresh", "err", rerr)
		}
		if merr := b.move(sig, to); merr != nil {
			b.end(fmt.Errorf("signaling ended: %w; move: %w", err, merr))
			return
		}
	}
}

// tryResume resumes the session after err ended the link; a non-nil result
// says why it was not resumed (errNoResume: resume is off).
func (b *Bot) tryResume(sig *Signal, err error) error {
	if b.cfg.ResumeWindow < 0 || b.SessionID() == "" {
		return fmt.Errorf("%w: %w", errNoResume, err)
	}
	b.log.Info("signaling lost, resuming", "err", err)
	return b.resume(sig)
}

// errNoResume is why a bot with resume disabled did not resume.
var errNoResume = errors.New("bot: resume disabled")

func (b *Bot) end(err error) {
	if b.life.Err() == nil {
		b.fail(err)
		go func() { _ = b.Close() }() // Close waits for the caller's goroutine
	}
}

// resume dials until the server takes the session back or the window
// passes. A refusal (error reply, or a fresh join) ends the attempts.
func (b *Bot) resume(sig *Signal) error {
	start := time.Now()
	pause := resumeFirstPause
	for {
		ctx, cancel := context.WithTimeout(b.life, resumeDialWait)
		conn, err := b.dialerFor(b.SignalURL()).dial(ctx)
		if err == nil {
			var reply *signaling.Message
			var later []*signaling.Message
			reply, later, err = b.rejoin(ctx, sig, conn)
			if err == nil {
				cancel()
				sig.replace(conn)
				b.resumed(reply, time.Since(start))
				for _, m := range later {
					b.handle(m)
				}
				return nil
			}
			conn.drop()
		}
		cancel()
		var refused *signaling.Error
		var moved *movedError
		if errors.As(err, &refused) || errors.As(err, &moved) || errors.Is(err, ErrNotResumed) || b.life.Err() != nil {
			return err
		}
		if len(b.cfg.FallbackURLs) > 0 && (nodeGone(err) || time.Since(start) > moveAfter) {
			return fmt.Errorf("node unreachable: %w", err)
		}
		if time.Since(start) > b.cfg.ResumeWindow {
			return fmt.Errorf("gave up after %v: %w", b.cfg.ResumeWindow, err)
		}
		t := time.NewTimer(pause)
		select {
		case <-b.life.Done():
			t.Stop()
			return ErrClosed
		case <-t.C:
		}
		pause = min(2*pause, resumeMaxPause)
	}
}

// rejoin sends join with resume on conn and reads up to its reply; the
// server sends the reply first, anything before it is handed on later.
func (b *Bot) rejoin(ctx context.Context, sig *Signal, conn link) (*signaling.Message, []*signaling.Message, error) {
	auto := b.cfg.Subscribe
	msg := signaling.Message{Type: signaling.TypeJoin, ID: "resume-" + sig.newID(), Token: b.cfg.Token, Resume: b.SessionID(), AutoSubscribe: &auto}
	m, before, err := exchange(ctx, conn, &msg)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case m.Type == signaling.TypeError:
		return nil, nil, &signaling.Error{Code: m.Code, Message: m.Message}
	case m.Type == signaling.TypeRedirect && m.URL != "":
		_ = conn.close()
		return nil, nil, &movedError{url: m.URL}
	case m.Type != signaling.TypeJoined:
		return nil, nil, fmt.Errorf("%w: resume answered with %q", ErrProtocol, m.Type)
	case !m.Resumed:
		// The server joined us afresh: our peer connections belong to
		// a participant that is gone. Leave the new one at once.
		_ = conn.close()
		return nil, nil, ErrNotResumed
	}
	return m, before, nil
}

// exchange sends msg on conn, which no reader serves yet, and reads up to
// the reply carrying msg's id; frames before it are returned in before.
func exchange(ctx context.Context, conn link, msg *signaling.Message) (reply *signaling.Message, before []*signaling.Message, err error) {
	data, err := json.Marshal(msg)
	if err != nil {
		return nil, nil, fmt.Errorf("encode %s: %w", msg.Type, err)
	}
	dl, _ := ctx.Deadline()
	if err := conn.send(data, dl); err != nil {
		return nil, nil, fmt.Errorf("send %s: %w", msg.Type, err)
	}
	for {
		data, err := conn.receive(dl)
		if err != nil {
			return nil, nil, fmt.Errorf("await reply to %s: %w", msg.Type, err)
		}
		var m signaling.Message
		if err := json.Unmarshal(data, &m); err != nil {
			continue
		}
		if m.ID != msg.ID {
			before = append(before, &m)
			continue
		}
		return &m, before, nil
	}
}

// resumed applies the joined snapshot of a resume and checks the publish
// connection, whose last offer or candidates may have been lost.
func (b *Bot) resumed(m *signaling.Message, took time.Duration) {
	b.reconnects.Add(1)
	b.room.resumed(m, b.cfg.Now())
	b.log.Info("resumed", "took", took, "participant", m.SessionID)
	b.kickPublisher()
	b.notify.notify()
}

// kickPublisher asks the publish keeper to look at the connection.
func (b *Bot) kickPublisher() {
	select {
	case b.pubKick <- struct{}{}:
	default:
	}
}

// keepPublishing restarts ICE on the publish connection when it went
// disconnected or failed, and re-sends an offer lost with a socket. The
// client is the offerer there, so this is the bot's job.
func (b *Bot) keepPublishing() {
	for {
		select {
		case <-b.life.Done():
			return
		case <-b.pubKick:
		}
		ctx, cancel := context.WithTimeout(b.life, recoverWait)
		_, pub, _ := b.parts()
		restarted, err := pub.recover(ctx)
		cancel()
		if restarted {
			b.pubRestarts.Add(1)
			b.notify.notify() // Stats changed: wake WaitStats
		}
		if err != nil && b.life.Err() == nil {
			// A socket that dropped meanwhile kicks again after resume;
			// an answer that never came needs another try.
			b.log.Info("publish recovery", "err", err)
			if !errors.Is(err, ErrConnectionLost) {
				b.kickPublisher()
				t := time.NewTimer(time.Second)
				select {
				case <-b.life.Done():
				case <-t.C:
				}
				t.Stop()
			}
		}
	}
}
