package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hibiki-sfu/hibiki/sfu"
)

// outQueue bounds what may wait for a slow client. A client that falls this
// far behind is disconnected rather than allowed to grow server memory.
const outQueue = 512

// hardLimitFactor times the message limit is the size at which a frame is
// not even read to its end: the socket is closed.
const hardLimitFactor = 16

// session is one WebSocket connection. One goroutine reads and runs the
// handlers; one writes. The SFU talks to it only through Notify, which
// never blocks.
type session struct {
	srv    *Server
	conn   *websocket.Conn
	logger *slog.Logger
	out    chan []byte
	done   chan struct{}
	drain  chan struct{} // closed when the reader ends the session
	once   sync.Once

	// Touched only by the reader goroutine.
	addr    netip.Addr // the peer's address, for the join limit
	msgs    bucket     // message rate
	refused int        // messages refused in a row for the rate
	p       *sfu.Participant
	att     *attachment
	claims  *Claims
	member  *member // set on a lobby socket
	id      string
}

// ending tells why a session's reader stopped, which decides whether the
// participant waits for a resume.
type ending uint8

const (
	endLost      ending = iota // the socket failed: the client may resume
	endClosed                  // the client closed normally (1000, 1001)
	endHandler                 // leave, or a refused join
	endViolation               // a frame beyond the hard size limit
)

func newSession(s *Server, conn *websocket.Conn) *session {
	return &session{
		srv:    s,
		conn:   conn,
		logger: s.logger.With("remote", conn.RemoteAddr().String()),
		out:    make(chan []byte, outQueue),
		done:   make(chan struct{}),
		drain:  make(chan struct{}),
		addr:   remoteAddr(conn.RemoteAddr()),
	}
}

func (s *session) close() {
	s.once.Do(func() {
		close(s.done)
		_ = s.conn.Close()
	})
}

func (s *session) run(ctx context.Context) {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop()
	}()
	stop := context.AfterFunc(ctx, s.close)
	defer stop()
	end := s.readLoop()
	if end == endHandler {
		// The reply to a leave or the error to a refused join was queued
		// just before the reader ended: let the writer send it first.
		close(s.drain)
		<-writerDone
	}
	s.close()
	<-writerDone
	if s.att != nil {
		s.att.detach(s, end != endLost || ctx.Err() != nil)
	}
	if s.member != nil {
		s.srv.lobby.leave(s.member)
	}
}

// readLoop reads and handles frames until a handler or the socket ends
// the session.
func (s *session) readLoop() ending {
	limit := s.srv.cfg.MaxMessageSize
	s.conn.SetReadLimit(int64(limit * hardLimitFactor))
	deadline := func() { _ = s.conn.SetReadDeadline(time.Now().Add(s.srv.cfg.PongTimeout)) }
	deadline()
	s.conn.SetPongHandler(func(string) error { deadline(); return nil })
	buf := make([]byte, limit+1)
	for {
		kind, r, err := s.conn.NextReader()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
				return endClosed
			}
			if !errors.Is(err, io.EOF) {
				s.logger.Debug("socket read ended", "err", err)
			}
			return endLost
		}
		deadline()
		n, err := io.ReadFull(r, buf)
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = nil
		}
		if errors.Is(err, websocket.ErrReadLimit) {
			s.srv.refusals.Violations.Add(1)
			return endViolation
		}
		if err != nil {
			return endLost
		}
		if n > limit {
			// Drain the rest so the stream stays in sync; the hard limit
			// set above ends the socket for absurd sizes.
			extra, derr := io.Copy(io.Discard, r)
			if errors.Is(derr, websocket.ErrReadLimit) {
				s.srv.refusals.Violations.Add(1)
				return endViolation
			}
			if derr != nil {
				return endLost
			}
			s.sendError("", newError(CodeTooLarge, "message exceeds the size limit", ErrMessageTooLarge), int64(n)+extra)
			continue
		}
		if kind != websocket.TextMessage && kind != websocket.BinaryMessage {
			continue
		}
		if !s.handle(buf[:n]) {
			return endHandler
		}
	}
}

func (s *session) writeLoop() {
	ping := time.NewTicker(s.srv.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.drain:
			s.flush()
			return
		case msg := <-s.out:
			_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := s.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				s.close()
				return
			}
		case <-ping.C:
			_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := s.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				s.close()
				return
			}
		}
	}
}

// flush writes what is still queued, then a close frame.
func (s *session) flush() {
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	for {
		select {
		case msg := <-s.out:
			if err := s.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				return
			}
		default:
			_ = s.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			return
		}
	}
}

// send queues a message; a client too slow to drain its queue is dropped.
func (s *session) send(m *Message) {
	data, err := json.Marshal(m)
	if err != nil {
		s.logger.Error("marshal message", "type", m.Type, "err", err)
		return
	}
	select {
	case s.out <- data:
	case <-s.done:
	default:
		s.srv.refusals.SlowClients.Add(1)
		s.logger.Warn("client too slow, closing", "queued", len(s.out))
		s.close()
	}
}

// sendError reports a refused request. size is logged for too_large.
func (s *session) sendError(id string, e *Error, size int64) {
	s.logger.Debug("request refused", "id", id, "code", e.Code, "err", e, "size", size)
	if f := s.srv.cfg.OnError; f != nil {
		f(e.Code)
	}
	s.send(&Message{Type: TypeError, ID: id, Code: e.Code, Message: e.Message})
}

// Notify implements sfu.Notifier.
func (s *session) Notify(ev sfu.Event) {
	if m := eventMessage(ev); m != nil {
		s.send(m)
	}
	if _, ok := ev.(sfu.Removed); ok {
		// Let the writer flush the notice before the socket closes.
		go func() {
			t := time.NewTimer(500 * time.Millisecond)
			defer t.Stop()
			select {
			case <-t.C:
			case <-s.done:
			}
			s.close()
		}()
	}
}
