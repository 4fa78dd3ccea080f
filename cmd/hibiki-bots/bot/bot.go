package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/webrtc/v4"
)

// Bot states, as shown by Stats().State.
const (
	StateNew        = "new"
	StateConnecting = "connecting"
	StateJoined     = "joined"
	StateClosed     = "closed"
)

// ErrAlreadyConnected is returned by a second Connect.
var ErrAlreadyConnected = errors.New("bot: already connected")

// Bot is one simulated participant. Create it with New, start it with
// Connect (or Run), end it with Close, Leave, or by cancelling Run's ctx.
// All methods are safe for concurrent use.
type Bot struct {
	cfg    Config
	log    *slog.Logger
	api    *webrtc.API
	room   *roomState
	notify *notifier

	// life bounds every goroutine of the bot; Close cancels it.
	life   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}

	dialer linkDialer

	connectMu sync.Mutex // serializes Connect
	connected bool

	// partsMu guards the parts Connect creates, so that Stats, Close and the
	// control methods may run while Connect is still in progress.
	partsMu   sync.Mutex
	sig       *Signal
	pub       *publisher
	sub       *subscriber
	data      *dataClient
	self      signaling.ParticipantInfo
	sessionID string
	url       string // where the join landed (after redirects)
	// stopSession ends the goroutines of the current session (its send
	// loops, track readers and offer answerer) when the bot moves.
	stopSession context.CancelFunc

	// pubKick asks the publish keeper to check the publish connection
	// (ICE restart, or an offer lost with a socket).
	pubKick                        chan struct{}
	reconnects, pubRestarts, moves atomic.Int64
	// moveTo is the URL of a redirect event: the reader moves the bot
	// there once the socket has closed. Touched only by the reader.
	moveTo string
	// leaving is set before leave is sent: the server then closes the
	// socket, which must not start a resume (a fresh join, since the
	// participant is gone).
	leaving atomic.Bool

	state     atomic.Value // string
	errMu     sync.Mutex
	err       error
	closeOnce sync.Once
}

// New prepares a bot; it does not connect.
func New(cfg Config) (*Bot, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	api, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	life, cancel := context.WithCancel(context.Background())
	b := &Bot{
		cfg: cfg, log: cfg.Logger, api: api,
		dialer: linkDialer{
			url: cfg.URL, transport: cfg.Transport, tls: cfg.TLSConfig,
			netDial: cfg.NetDialContext, lp: lpOptions{client: cfg.LongPollClient},
		},
		room: newRoomState(), notify: newNotifier(),
		life: life, cancel: cancel, done: make(chan struct{}),
		pubKick: make(chan struct{}, 1),
	}
	b.state.Store(StateNew)
	return b, nil
}

// Connect dials the server, joins, and (if configured) publishes; it
// returns once the publish offer is answered. ctx bounds only this setup:
// the bot keeps running until Close, Leave, or the server ends the session.
func (b *Bot) Connect(ctx context.Context) error {
	b.connectMu.Lock()
	defer b.connectMu.Unlock()
	if b.connected {
		return ErrAlreadyConnected
	}
	b.connected = true
	b.state.Store(StateConnecting)
	if err := b.connect(ctx); err != nil {
		b.fail(err)
		_ = b.Close()
		return err
	}
	return nil
}

func (b *Bot) connect(ctx context.Context) error {
	// The join goes out on the bare socket so that a redirect can be
	// followed before anything is built; what the server sends after the
	// joined reply waits in the socket for the reader started below.
	conn, reply, before, err := b.dialJoin(ctx, b.cfg.URL)
	if err != nil {
		return err
	}
	sig := newSignal(conn, b.log)
	sess, pub, sub, err := b.build(sig, nil)
	if err != nil {
		_ = conn.close()
		return err
	}
	if err := b.joined(reply); err != nil {
		return err
	}
	// From here on the reader may move the bot (a redirect event) and
	// replace the parts: use the ones of this session.
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for _, m := range before {
			b.handle(m)
		}
		b.readSignal(sig)
	}()
	b.runSubscriber(sess, sub)
	if b.cfg.Publish {
		// A move meanwhile ends sess and publishes on the new node.
		if err := pub.publish(ctx, sess, &b.wg, b.cfg, b.cfg.Identity); err != nil && sess.Err() == nil {
			return err
		}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.keepPublishing()
	}()
	return nil
}

// build makes the peer connections, publisher, subscriber and data client
// of one session on sig, and the context their goroutines run under (ended
// by a move to another node, or Close). The subscriber takes over the
// received tracks of old (nil at first), so Stats keeps their counts.
func (b *Bot) build(sig *Signal, old *subscriber) (context.Context, *publisher, *subscriber, error) {
	pubPeer, err := newPeer(b.api, nil, signaling.TargetPublish, sig, b.log)
	if err != nil {
		return nil, nil, nil, err
	}
	subPeer, err := newPeer(b.api, nil, signaling.TargetSubscribe, sig, b.log)
	if err != nil {
		_ = pubPeer.close()
		return nil, nil, nil, err
	}
	data := newDataClient(b.cfg.OnData, b.notify, b.cfg.Now, b.log)
	subPeer.pc.OnDataChannel(data.attach)
	sub := newSubscriber(subPeer, sig, b.room, b.notify, b.cfg.Now, b.log)
	if old != nil {
		sub.inherit(old)
	}
	pub := newPublisher(pubPeer, sig, b.log)
	sess, stop := context.WithCancel(b.life)
	b.partsMu.Lock()
	b.sig = sig
	b.data = data
	b.pub = pub
	b.sub = sub
	b.stopSession = stop
	b.partsMu.Unlock()
	pubPeer.onICEState(func(s webrtc.ICEConnectionState) {
		if s == webrtc.ICEConnectionStateDisconnected || s == webrtc.ICEConnectionStateFailed {
			b.kickPublisher()
		}
	})
	return sess, pub, sub, nil
}

// runSubscriber answers the server's subscribe offers to sub until sess
// ends.
func (b *Bot) runSubscriber(sess context.Context, sub *subscriber) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		sub.run(sess, &b.wg)
	}()
}

func (b *Bot) joined(m *signaling.Message) error {
	b.partsMu.Lock()
	if m.Participant != nil {
		b.self = *m.Participant
	}
	b.sessionID = m.SessionID
	b.partsMu.Unlock()
	if len(m.ICEServers) > 0 || m.ICETransportPolicy != "" {
		conf := webrtc.Configuration{}
		for _, s := range m.ICEServers {
			conf.ICEServers = append(conf.ICEServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
		if m.ICETransportPolicy == signaling.ICETransportPolicyRelay && !b.cfg.IgnoreRelayPolicy {
			conf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
		}
		for _, p := range []*peer{b.pub.peer, b.sub.peer} {
			if err := p.pc.SetConfiguration(conf); err != nil {
				return fmt.Errorf("apply ice servers: %w", err)
			}
		}
	}
	b.room.joined(m, b.cfg.Now())
	b.state.Store(StateJoined)
	b.log.Info("joined", "room", m.Room, "participant", b.self.SID, "others", len(m.Participants))
	b.notify.notify()
	return nil
}

// handle runs on the signaling reader for every frame that is not the
// reply to a pending request.
func (b *Bot) handle(m *signaling.Message) {
	switch m.Type {
	case signaling.TypeOffer:
		if m.Target == signaling.TargetSubscribe {
			select {
			case b.sub.offers <- m:
			case <-b.life.Done():
			}
		}
	case signaling.TypeAnswer:
		if m.Target == signaling.TargetPublish {
			select {
			case b.pub.answers <- m:
			default:
				b.log.Warn("publish answer nobody waits for")
			}
		}
	case signaling.TypeCandidate:
		p := b.sub.peer
		if m.Target == signaling.TargetPublish {
			p = b.pub.peer
		}
		if err := p.addRemoteCandidate(m.Candidate); err != nil {
			b.log.Warn("remote candidate", "err", err)
		}
		return // candidates are not events anyone awaits
	case signaling.TypeLayersChanged:
		b.pub.layersChanged(m.TrackSID, m.Active)
	case signaling.TypeError:
		b.log.Warn("server error", "code", m.Code, "message", m.Message, "id", m.ID)
	case signaling.TypeRemoved:
		b.log.Info("removed by the server", "reason", m.Message)
	case signaling.TypeStats:
		// Periodic and frequent: kept as the latest, not in the event log.
		if m.Stats != nil {
			b.room.setStats(*m.Stats, b.cfg.Now())
			b.notify.notify()
		}
		return
	case signaling.TypeRedirect:
		// Not the reply to a join (that one has an id and is read by
		// dialJoin): the node hands the room over; join afresh at URL.
		if m.URL != "" {
			b.log.Info("told to move", "to", m.URL, "reason", m.Reason)
			b.moveTo = m.URL
			_ = b.sig.closeLink()
		}
	}
	now := b.cfg.Now()
	b.room.apply(m, now)
	switch m.Type {
	case signaling.TypeTrackMuted, signaling.TypeSubscriptionPaused:
		t := b.room.trackInfo(m.TrackSID)
		b.sub.setPaused(m.TrackSID, t.Muted, t.Paused)
	case signaling.TypeTrackUnpublished:
		b.sub.setGone(m.TrackSID, "")
	case signaling.TypeParticipantLeft:
		b.sub.setGone("", m.ParticipantSID)
	}
	b.notify.notify()
}

// Run connects if Connect was not called and then blocks until ctx ends or
// the session does; either way the bot is closed when Run returns. It
// returns nil when ctx ended it, else why the session ended.
func (b *Bot) Run(ctx context.Context) error {
	b.connectMu.Lock()
	connected := b.connected
	b.connectMu.Unlock()
	if !connected {
		if err := b.Connect(ctx); err != nil {
			return err
		}
	}
	select {
	case <-ctx.Done():
		return b.Close()
	case <-b.life.Done():
		_ = b.Close()
		return b.Err()
	}
}

// Close tears the bot down and waits for all its goroutines.
func (b *Bot) Close() error {
	var err error
	b.closeOnce.Do(func() {
		b.state.Store(StateClosed)
		b.cancel()
		sig, pub, sub := b.parts()
		if sig != nil {
			err = errors.Join(err, sig.Close())
		}
		if pub != nil {
			err = errors.Join(err, pub.peer.close())
		}
		if sub != nil {
			err = errors.Join(err, sub.peer.close())
		}
		b.wg.Wait()
		close(b.done)
		b.notify.notify()
	})
	<-b.done
	return err
}

// Done is closed when the bot has closed.
func (b *Bot) Done() <-chan struct{} { return b.done }

// Err is the error that ended the session, if any.
func (b *Bot) Err() error {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	return b.err
}

func (b *Bot) fail(err error) {
	b.errMu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.errMu.Unlock()
}

// Leave sends leave, waits for the reply (or the server closing the
// socket) and closes the bot.
func (b *Bot) Leave(ctx context.Context) error {
	sig := b.signal()
	if sig == nil {
		return b.Close()
	}
	b.leaving.Store(true)
	_, err := sig.Request(ctx, &signaling.Message{Type: signaling.TypeLeave})
	if errors.Is(err, ErrClosed) {
		err = nil
	}
	return errors.Join(err, b.Close())
}

func (b *Bot) signal() *Signal {
	sig, _, _ := b.parts()
	return sig
}

// parts returns what Connect has created so far (nil before).
func (b *Bot) parts() (*Signal, *publisher, *subscriber) {
	b.partsMu.Lock()
	defer b.partsMu.Unlock()
	return b.sig, b.pub, b.sub
}
