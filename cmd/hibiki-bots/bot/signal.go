package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
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

// Signal is the bot's signaling WebSocket. Requests carry ids and wait for
// the reply with the same id; every other frame goes to the bot's handler.
// Tests use Send and SendRaw to put arbitrary (also malformed) frames on the
// wire. The socket underneath can be replaced (resume): requests in flight
// on a socket that drops fail with ErrConnectionLost.
type Signal struct {
	log *slog.Logger

	wmu    sync.Mutex // gorilla allows one concurrent writer
	nextID atomic.Uint64

	mu      sync.Mutex
	conn    *websocket.Conn
	lost    chan struct{} // closed when conn failed
	pending map[string]chan *signaling.Message
	errs    []signaling.Message
	closed  bool
	done    chan struct{}
}

// dialWS opens a WebSocket; dial, when set, makes the TCP connection (a
// test binds it to a namespace address).
func dialWS(ctx context.Context, url string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*websocket.Conn, error) {
	d := *websocket.DefaultDialer
	d.NetDialContext = dial
	conn, resp, err := d.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	conn.SetReadLimit(readLimit)
	return conn, nil
}

// dialSignal dials url and wraps the socket in a Signal.
func dialSignal(ctx context.Context, url string, log *slog.Logger) (*Signal, error) {
	conn, err := dialWS(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	return newSignal(conn, log), nil
}

func newSignal(conn *websocket.Conn, log *slog.Logger) *Signal {
	return &Signal{
		conn:    conn,
		lost:    make(chan struct{}),
		log:     log,
		pending: make(map[string]chan *signaling.Message),
		done:    make(chan struct{}),
	}
}

func (s *Signal) current() (*websocket.Conn, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn, s.lost
}

// replace makes conn the socket of every later request and read.
func (s *Signal) replace(conn *websocket.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = conn
	s.lost = make(chan struct{})
}

// Drop ends the socket without a close frame, as a lost network would
// (tests of resume).
func (s *Signal) Drop() {
	conn, _ := s.current()
	_ = conn.UnderlyingConn().Close()
}

// Send writes one message as JSON.
func (s *Signal) Send(msg any) error {
	data, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	return s.SendRaw(data)
}

// SendRaw writes one text frame exactly as given.
func (s *Signal) SendRaw(data []byte) error {
	conn, _ := s.current()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if err := conn.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
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
		_, data, err := conn.ReadMessage()
		if err != nil {
			return fmt.Errorf("read frame: %w", err)
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

// Close sends a normal close (the server then removes the participant at
// once) and closes the socket, which ends readLoop.
func (s *Signal) Close() error {
	s.shutdown()
	conn, _ := s.current()
	s.wmu.Lock()
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	s.wmu.Unlock()
	if err := conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close websocket: %w", err)
	}
	return nil
}
