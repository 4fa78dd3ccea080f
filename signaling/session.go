package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/hibiki-sfu/hibiki/sfu"
)

// outQueue bounds what may wait for a slow client. A client that falls this
// far behind is disconnected rather than allowed to grow server memory.
const outQueue = 512

// hardLimitFactor times the message limit is the size at which a frame is
// not even read to its end: the socket is closed.
const hardLimitFactor = 16

// session is one client link, whatever its transport. One goroutine reads
// and runs the handlers; one writes. The SFU talks to it only through
// Notify, which never blocks.
type session struct {
	srv    *Server
	t      transport
	logger *slog.Logger
	out    chan []byte
	done   chan struct{}
	drain  chan struct{} // closed (by finish) to flush the queue and end the link normally
	ended  chan struct{} // closed when run has returned
	once   sync.Once
	fin    sync.Once

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
	endLost      ending = iota // the link failed: the client may resume
	endClosed                  // the client closed normally (1000, 1001, DELETE)
	endHandler                 // leave, or a refused join
	endViolation               // a frame beyond the hard size limit
)

func newSession(s *Server, t transport) *session {
	return &session{
		srv:    s,
		t:      t,
		logger: s.logger.With("remote", t.remoteAddr(), "transport", t.kind()),
		out:    make(chan []byte, outQueue),
		done:   make(chan struct{}),
		drain:  make(chan struct{}),
		ended:  make(chan struct{}),
		addr:   remoteAddr(t.remoteAddr()),
	}
}

func (s *session) close() {
	s.once.Do(func() {
		close(s.done)
		s.t.close()
	})
}

// finish makes the writer send what is queued and end the link normally
// (WebSocket close 1000); the reader then sees the client's close.
func (s *session) finish() { s.fin.Do(func() { close(s.drain) }) }

func (s *session) run(ctx context.Context) {
	defer close(s.ended)
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
		s.finish()
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

// readLoop reads and handles messages until a handler or the link ends
// the session.
func (s *session) readLoop() ending {
	limit := s.srv.cfg.MaxMessageSize
	for {
		data, err := s.t.read(limit)
		var big *oversizeError
		if errors.As(err, &big) {
			s.sendError("", newError(CodeTooLarge, "message exceeds the size limit", ErrMessageTooLarge), big.size)
			continue
		}
		var gone *linkEnded
		if errors.As(err, &gone) {
			if gone.err != nil {
				s.logger.Debug("link ended", "err", gone.err)
			}
			if gone.why == endViolation {
				s.srv.refusals.Violations.Add(1)
			}
			return gone.why
		}
		if err != nil {
			return endLost
		}
		if !s.handle(data) {
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
			if err := s.t.write(msg); err != nil {
				s.logger.Debug("write failed", "err", err)
				s.close()
				return
			}
		case <-ping.C:
			if err := s.t.keepalive(); err != nil {
				s.logger.Debug("keepalive failed", "err", err)
				s.close()
				return
			}
		}
	}
}

// flush writes what is still queued, then ends the link normally.
func (s *session) flush() {
	for {
		select {
		case msg := <-s.out:
			if err := s.t.write(msg); err != nil {
				return
			}
		default:
			s.t.finish()
			return
		}
	}
}

// send queues a message; a client too slow to drain its queue is dropped.
// Once the link is finishing (leave, a refused join, a redirect), what was
// queued is its last word: later events would race with the writer's final
// flush and land after the redirect, or not at all.
func (s *session) send(m *Message) {
	select {
	case <-s.drain:
		return
	default:
	}
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
