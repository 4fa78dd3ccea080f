package signaling

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// WebSocket over HTTP/2 (RFC 8441). A client sends a CONNECT request with
// the pseudo-header :protocol = websocket; the server answers 200 and the
// request body and the response body become the two directions of the
// socket, carrying ordinary RFC 6455 frames (masked from the client).
//
// Go's HTTP/2 server parses extended CONNECT and announces
// SETTINGS_ENABLE_CONNECT_PROTOCOL only when the process starts with
// GODEBUG=http2xconnect=1 (see internal/xconnect); it hands the request to
// the handler with Method CONNECT and the :protocol value in the header
// map. gorilla/websocket does not know this handshake, but its framing
// only needs a net.Conn: h2Stream is one over the stream, and h2Hijacker
// lets gorilla's own Upgrader build its Conn on it (the HTTP/1.1 101
// response it writes first is dropped, the 200 already went out).

// isExtendedConnect reports an RFC 8441 WebSocket request.
func isExtendedConnect(r *http.Request) bool {
	return r.Method == http.MethodConnect && r.ProtoMajor == 2 && r.Header.Get(":protocol") == "websocket"
}

// h2ChallengeKey is the Sec-WebSocket-Key of the synthetic upgrade request
// handed to gorilla; RFC 8441 has no key, and the accept value computed
// from it is never sent.
const h2ChallengeKey = "aGliaWtpIGgyIHN0cmVhbQ=="

// serveH2 runs a session on an extended CONNECT stream. The handler must
// not return before the session ends: returning ends the stream.
func (s *Server) serveH2(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Sec-Websocket-Version") != "13" {
		writeHTTPError(w, http.StatusBadRequest, newError(CodeBadRequest, "sec-websocket-version must be 13", nil))
		return
	}
	if !s.upgrader.CheckOrigin(r) {
		writeHTTPError(w, http.StatusForbidden, newError(CodeForbidden, "origin not allowed", nil))
		return
	}
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	stream := newH2Stream(r, w, rc)
	defer stream.end()
	fake := &http.Request{
		Method: http.MethodGet,
		Host:   r.Host,
		URL:    r.URL,
		Header: http.Header{
			"Connection":            {"Upgrade"},
			"Upgrade":               {"websocket"},
			"Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key":     {h2ChallengeKey},
		},
	}
	up := s.upgrader
	up.CheckOrigin = func(*http.Request) bool { return true } // checked above
	conn, err := up.Upgrade(&h2Hijacker{ResponseWriter: w, stream: stream}, fake, nil)
	if err != nil {
		s.logger.Debug("websocket over http/2 refused", "err", err)
		return
	}
	sess := s.start(newWSTransport(conn, "websocket-h2", s.cfg.MaxMessageSize, s.cfg.PongTimeout))
	if sess == nil {
		return
	}
	select {
	case <-sess.ended:
	case <-r.Context().Done():
		sess.close()
		<-sess.ended
	}
}

// h2Hijacker gives gorilla's Upgrader the stream as if it were a hijacked
// HTTP/1.1 connection.
type h2Hijacker struct {
	http.ResponseWriter
	stream *h2Stream
}

func (h *h2Hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.stream, bufio.NewReadWriter(bufio.NewReader(h.stream), bufio.NewWriter(h.stream)), nil
}

// h2Stream is one HTTP/2 stream seen as a net.Conn: reads come from the
// request body, writes go to the response and are flushed at once.
type h2Stream struct {
	body   io.ReadCloser
	rc     *http.ResponseController
	remote net.Addr

	closed  atomic.Bool
	mu      sync.Mutex // held by a write, so the handler's return waits for it
	w       io.Writer
	greeted bool // gorilla's 101 response was dropped
}

func newH2Stream(r *http.Request, w http.ResponseWriter, rc *http.ResponseController) *h2Stream {
	remote, err := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	if err != nil {
		remote = &net.TCPAddr{}
	}
	return &h2Stream{body: r.Body, w: w, rc: rc, remote: remote}
}

// errStreamClosed is returned by writes after the stream ended.
var errStreamClosed = errors.New("signaling: http/2 stream closed")

func (c *h2Stream) Read(p []byte) (int, error) { return c.body.Read(p) }

func (c *h2Stream) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return 0, errStreamClosed
	}
	if !c.greeted && bytes.HasPrefix(p, []byte("HTTP/1.1 101 ")) {
		c.greeted = true
		return len(p), nil
	}
	c.greeted = true
	n, err := c.w.Write(p)
	if err == nil {
		err = c.rc.Flush()
	}
	return n, err
}

// Close ends both directions: the body read fails, later writes fail, and
// the handler (waiting for the session) returns, which ends the stream.
// It never waits for a write in flight: a past write deadline fails it.
func (c *h2Stream) Close() error {
	c.closed.Store(true)
	_ = c.rc.SetWriteDeadline(time.Now())
	return c.body.Close()
}

// end runs when the handler returns: no write may touch the response
// writer after that, so it waits for the one in flight.
func (c *h2Stream) end() {
	_ = c.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
}

func (c *h2Stream) LocalAddr() net.Addr  { return &net.TCPAddr{} }
func (c *h2Stream) RemoteAddr() net.Addr { return c.remote }

func (c *h2Stream) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

func (c *h2Stream) SetReadDeadline(t time.Time) error {
	if err := c.rc.SetReadDeadline(t); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

func (c *h2Stream) SetWriteDeadline(t time.Time) error {
	if err := c.rc.SetWriteDeadline(t); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}
