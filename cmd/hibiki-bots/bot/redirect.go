package bot

import (
	"context"
	"fmt"

	"github.com/hibiki-sfu/hibiki/signaling"
)

// maxRedirects bounds the redirect hops of one join (docs/cluster.md): a
// node redirects only to the room's holder, so one hop is the norm.
const maxRedirects = 3

// dialJoin dials url and joins, following redirect answers
// to the node that serves the room. It returns the socket, still without a
// reader (frames after the reply wait in it), the joined reply, frames that
// came before it, and the URL the bot landed on.
func (b *Bot) dialJoin(ctx context.Context, url string) (link, *signaling.Message, []*signaling.Message, error) {
	auto := b.cfg.Subscribe
	for hop := 0; ; hop++ {
		conn, err := b.dialerFor(url).dial(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		msg := signaling.Message{Type: signaling.TypeJoin, ID: "join", Token: b.cfg.Token, AutoSubscribe: &auto}
		reply, before, err := exchange(ctx, conn, &msg)
		if err == nil && reply.Type == signaling.TypeRedirect && reply.URL != "" && hop < maxRedirects {
			b.log.Info("join redirected", "from", url, "to", reply.URL)
			_ = conn.close()
			url = reply.URL
			continue
		}
		switch {
		case err != nil:
		case reply.Type == signaling.TypeError:
			err = &signaling.Error{Code: reply.Code, Message: reply.Message}
		case reply.Type != signaling.TypeJoined:
			err = fmt.Errorf("%w: join answered with %q", ErrProtocol, reply.Type)
		}
		if err != nil {
			_ = conn.close()
			return nil, nil, nil, fmt.Errorf("join: %w", err)
		}
		b.partsMu.Lock()
		b.url = url
		b.partsMu.Unlock()
		return conn, reply, before, nil
	}
}

// SignalURL returns the signaling URL the bot joined through: the
// configured one, or the node a redirect sent it to. Resumes go there.
func (b *Bot) SignalURL() string {
	b.partsMu.Lock()
	defer b.partsMu.Unlock()
	if b.url == "" {
		return b.cfg.URL
	}
	return b.url
}

// dialerFor returns the bot's dialer aimed at url (a redirect target, or
// the node a resume must go back to).
func (b *Bot) dialerFor(url string) *linkDialer {
	d := b.dialer
	d.url = url
	return &d
}
