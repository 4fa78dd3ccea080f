package h2ws

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// acceptGUID is RFC 6455's key suffix.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// stream is the client side of one extended CONNECT stream as a net.Conn:
// reads come from the response body, writes go into the request body.
type stream struct {
	body    io.ReadCloser
	w       *io.PipeWriter
	release func()

	mu       sync.Mutex
	greeting *bytes.Reader // the synthetic 101 response, read before the body
	greeted  bool
	closed   bool
	expired  bool
	rtimer   *time.Timer
	wtimer   *time.Timer
}

func newStream(body io.ReadCloser, w *io.PipeWriter, release func()) *stream {
	return &stream{body: body, w: w, release: release}
}

// errHandshake reports an upgrade request from gorilla that stream cannot read.
var errHandshake = errors.New("h2ws: unexpected handshake from the websocket library")

func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	if !s.greeted {
		s.greeted = true
		defer s.mu.Unlock()
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(p)))
		if err != nil {
			return 0, errors.Join(errHandshake, err)
		}
		key := req.Header.Get("Sec-Websocket-Key")
		if key == "" {
			return 0, errHandshake
		}
		sum := sha1.Sum([]byte(key + acceptGUID))
		s.greeting = bytes.NewReader([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"))
		return len(p), nil
	}
	s.mu.Unlock()
	n, err := s.w.Write(p)
	return n, s.timeout(err)
}

func (s *stream) Read(p []byte) (int, error) {
	s.mu.Lock()
	g := s.greeting
	s.mu.Unlock()
	if g != nil && g.Len() > 0 {
		return g.Read(p)
	}
	n, err := s.body.Read(p)
	return n, s.timeout(err)
}

// timeout turns the error of an I/O cut by an expired deadline into the
// net.Error timeout callers expect.
func (s *stream) timeout(err error) error {
	if err == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expired {
		return os.ErrDeadlineExceeded
	}
	return err
}

func (s *stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, t := range []*time.Timer{s.rtimer, s.wtimer} {
		if t != nil {
			t.Stop()
		}
	}
	s.mu.Unlock()
	_ = s.w.Close()
	err := s.body.Close()
	s.release()
	return err
}

// A deadline cannot interrupt an HTTP/2 stream read or a pipe write alone,
// so one that passes ends the stream, as a timeout makes a gorilla
// connection unusable anyway.
func (s *stream) arm(slot **time.Timer, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *slot != nil {
		(*slot).Stop()
		*slot = nil
	}
	if t.IsZero() || s.closed {
		return
	}
	*slot = time.AfterFunc(time.Until(t), func() {
		s.mu.Lock()
		s.expired = true
		s.mu.Unlock()
		_ = s.Close()
	})
}

func (s *stream) SetReadDeadline(t time.Time) error  { s.arm(&s.rtimer, t); return nil }
func (s *stream) SetWriteDeadline(t time.Time) error { s.arm(&s.wtimer, t); return nil }
func (s *stream) SetDeadline(t time.Time) error {
	s.arm(&s.rtimer, t)
	s.arm(&s.wtimer, t)
	return nil
}

func (s *stream) LocalAddr() net.Addr  { return &net.TCPAddr{} }
func (s *stream) RemoteAddr() net.Addr { return &net.TCPAddr{} }
