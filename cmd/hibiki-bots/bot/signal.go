package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
)

// Signaling limits.
const (
	writeTimeout = 5 * time.Second
	maxErrors    = 64 // error frames kept for LastErrors
	readLimit    = 1 << 20
)

// Errors of the signaling client.
var (
	// ErrClosed is returned by requests on a closed signaling connection.
	ErrClosed = errors.New("bot: signaling closed")
	// ErrProtocol reports a server message that breaks docs/protocol.md.
	ErrProtocol = errors.New("bot: protocol violation")
	// ErrConnectionLost fails requests whose socket dropped; the bot may
	// resume on a new one.
	ErrConnectionLost = fmt.Errorf("%w: connection lost", ErrClosed)
)

// Signal is the bot's signaling connection. Requests carry ids and wait
// for the reply with the same id; every other message goes to the bot's
// handler. Tests use Send and SendRaw to put arbitrary (also malformed)
// messages on the wire. The link underneath (WebSocket, WebSocket over
// HTTP/2, or long-poll) can be replaced (resume): requests in flight on a
// link that drops fail with ErrConnectionLost.
type Signal struct {
	log *slog.Logger

	wmu    sync.Mutex // one writer at a time, in order
	nextID atomic.Uint64

	mu      sync.Mutex
	conn    link
	lost    chan struct{} // closed when conn failed
	pending map[string]chan *signaling.Message
	errs    []signaling.Message
	closed  bool
	done    chan struct{}
}

// dialSignal dials a WebSocket at url and wraps it in a Signal.
func dialSignal(ctx context.Context, url string, log *slog.Logger) (*Signal, error) {
	conn, err := dialWS(ctx, url, nil, nil)
	if err != nil {
		return nil, err
	}
	return newSignal(&wsLink{conn: conn}, log), nil
}

func newSignal(conn link, log *slog.Logger) *Signal {
	return &Signal{
		conn:    conn,
		lost:    make(chan struct{}),
		log:     log,
		pending: make(map[string]chan *signaling.Message),
		done:    make(chan struct{}),
	}
}

func (s *Signal) current() (link, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn, s.lost
}

// replace makes conn the link of every later request and read.
func (s *Signal) replace(conn link) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = conn
	s.lost = make(chan struct{})
}

// Drop ends the link without a goodbye, as a lost network would (tests of
// resume).
func (s *Signal) Drop() {
	conn, _ := s.current()
	conn.drop()
}

// Send writes one message as JSON.
func (s *Signal) Send(msg any) error {
	data, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	return s.SendRaw(data)
}

// SendRaw writes one message exactly as given.
func (s *Signal) SendRaw(data []byte) error {
	conn, _ := s.current()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return conn.send(data, time.Now().Add(writeTimeout))
}

// Request sends msg with a fresh id and waits for the reply carrying that
// id. A reply of type "error" comes back as a *signaling.Error.
func (s *Signal) Request(ctx context.Context, msg *signaling.Message) (*signaling.Message, error) {
	m := *msg
	m.ID = s.newID()
	return s.requestOr(ctx, m.ID, &m, nil)
}

func (s *Signal) newID() string { return strconv.FormatUint(s.nextID.Add(1), 10) }

// requestOr sends v (whose id field is id) and awaits the reply, or a
// message on alt (nil: none), for replies a server might send without id.
func (s *Signal) requestOr(ctx context.Context, id string, v any, alt <-chan *signaling.Message) (*signaling.Message, error) {
	ch := make(chan *signaling.Message, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	s.pending[id] = ch
	lost := s.lost
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
	}()
	if err := s.Send(v); err != nil {
		return nil, err
	}
	select {
	case reply := <-ch:
		if reply.Type == signaling.TypeError {
			return reply, &signaling.Error{Code: reply.Code, Message: reply.Message}
		}
		return reply, nil
	case reply := <-alt:
		return reply, nil
	case <-lost:
		return nil, ErrConnectionLost
	case <-s.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("await reply to %s: %w", id, ctx.Err())
	}
}

// LastErrors returns the most recent error frames the server sent, oldest
// first (at most 64).
func (s *Signal) LastErrors() []signaling.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]signaling.Message(nil), s.errs...)
}

// readLoop reads frames until the current socket fails or closes, then
// fails the requests waiting on it. Replies go to their waiting request;
// everything else (events, replies nobody awaits) goes to handle, which
// runs on this goroutine and must not block long.
func (s *Signal) readLoop(handle func(*signaling.Message)) error {
	conn, lost := s.current()
	defer close(lost)
	for {
		data, err := conn.receive(time.Time{})
		if err != nil {
			return err
		}
		var m signaling.Message
		if err := json.Unmarshal(data, &m); err != nil {
			s.log.Warn("undecodable frame from server", "err", err)
			continue
		}
		if m.Type == signaling.TypeError {
			s.recordError(m)
		}
		if m.ID != "" && s.deliver(&m) {
			continue
		}
		handle(&m)
	}
}

func (s *Signal) recordError(m signaling.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, m)
	if len(s.errs) > maxErrors {
		s.errs = s.errs[len(s.errs)-maxErrors:]
	}
}

func (s *Signal) deliver(m *signaling.Message) bool {
	s.mu.Lock()
	ch, ok := s.pending[m.ID]
	s.mu.Unlock()
	if ok {
		select {
		case ch <- m:
		default: // a second reply to one id; the first one counts
		}
	}
	return ok
}

func (s *Signal) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// Close ends the link normally (the server then removes the participant
// at once), which ends readLoop.
func (s *Signal) Close() error {
	s.shutdown()
	conn, _ := s.current()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return conn.close()
}

// closeLink ends the current link normally without closing the Signal: its
// reader returns, and a new link may replace it (a move to another node).
func (s *Signal) closeLink() error {
	conn, _ := s.current()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return conn.close()
}
