package bot

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
)

// Lobby is a presence socket (docs/protocol.md "Lobby"): it lists who is
// online, and sends and answers 1:1 invites. Tests await its events with
// WaitMessage, as they do a Bot's.
type Lobby struct {
	sig    *Signal
	notify *notifier
	done   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	events []signaling.Message
	self   signaling.PresenceUser
	users  []signaling.PresenceUser
}

// LobbyToken mints a development-key token for the lobby named room.
func LobbyToken(room, identity string) (string, error) {
	tok, err := signaling.NewToken(signaling.DevAPIKey, signaling.DevAPISecret, room, identity, identity, signaling.AllGrants(), time.Hour)
	if err != nil {
		return "", fmt.Errorf("mint lobby token: %w", err)
	}
	return tok, nil
}

// DialLobby connects to url and enters the lobby with token.
func DialLobby(ctx context.Context, url, token string, log *slog.Logger) (*Lobby, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sig, err := dialSignal(ctx, url, log)
	if err != nil {
		return nil, err
	}
	l := &Lobby{sig: sig, notify: newNotifier(), done: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(l.done)
		_ = sig.readLoop(l.handle)
	}()
	reply, err := sig.Request(ctx, &signaling.Message{Type: signaling.TypeLobby, Token: token})
	if err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("enter lobby: %w", err)
	}
	l.mu.Lock()
	if reply.User != nil {
		l.self = *reply.User
	}
	l.users = reply.Users
	l.mu.Unlock()
	l.notify.notify()
	return l, nil
}

func (l *Lobby) handle(m *signaling.Message) {
	l.mu.Lock()
	if len(l.events) < maxEvents {
		l.events = append(l.events, *m)
	}
	l.mu.Unlock()
	l.notify.notify()
}

// Self is this member as the server listed it.
func (l *Lobby) Self() signaling.PresenceUser {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.self
}

// Users is the lobby as this member sees it now: the list it got on
// entering with every presence event since applied, by identity.
func (l *Lobby) Users() map[string]signaling.PresenceUser {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.usersLocked()
}

func (l *Lobby) usersLocked() map[string]signaling.PresenceUser {
	view := make(map[string]signaling.PresenceUser, len(l.users))
	for _, u := range l.users {
		view[u.Identity] = u
	}
	for _, m := range l.events {
		if m.Type != signaling.TypePresence || m.User == nil || m.User.Identity == l.self.Identity {
			continue
		}
		if m.User.State == signaling.StateOffline {
			delete(view, m.User.Identity)
		} else {
			view[m.User.Identity] = *m.User
		}
	}
	return view
}

// WaitUser blocks until identity is listed with state (StateOffline: not
// listed), whether the entry list or a presence event says so.
func (l *Lobby) WaitUser(ctx context.Context, identity, state string) error {
	return l.notify.waitFor(ctx, l.done, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		u, ok := l.usersLocked()[identity]
		if state == signaling.StateOffline {
			return !ok
		}
		return ok && u.State == state
	})
}

// Invite rings identity and returns the invite id.
func (l *Lobby) Invite(ctx context.Context, identity string) (string, error) {
	r, err := l.sig.Request(ctx, &signaling.Message{Type: signaling.TypeInvite, Identity: identity})
	if err != nil {
		return "", fmt.Errorf("invite %s: %w", identity, err)
	}
	return r.InviteID, nil
}

// Answer accepts or rejects an invite.
func (l *Lobby) Answer(ctx context.Context, inviteID string, accept bool) error {
	if _, err := l.sig.Request(ctx, &signaling.Message{Type: signaling.TypeAnswerInvite, InviteID: inviteID, Accept: &accept}); err != nil {
		return fmt.Errorf("answer invite: %w", err)
	}
	return nil
}

// Cancel stops an invite this member sent.
func (l *Lobby) Cancel(ctx context.Context, inviteID string) error {
	if _, err := l.sig.Request(ctx, &signaling.Message{Type: signaling.TypeCancelInvite, InviteID: inviteID}); err != nil {
		return fmt.Errorf("cancel invite: %w", err)
	}
	return nil
}

// WaitMessage blocks until an event matching pred has arrived (earlier
// ones count) and returns it.
func (l *Lobby) WaitMessage(ctx context.Context, pred func(*signaling.Message) bool) (*signaling.Message, error) {
	var found *signaling.Message
	err := l.notify.waitFor(ctx, l.done, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for i := range l.events {
			if pred(&l.events[i]) {
				m := l.events[i]
				found = &m
				return true
			}
		}
		return false
	})
	return found, err
}

// Close leaves the lobby and waits for the reader.
func (l *Lobby) Close() error {
	err := l.sig.Close()
	l.wg.Wait()
	return err
}
