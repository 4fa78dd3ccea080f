package signaling

import (
	"errors"
	"io"
	"time"

	"github.com/gorilla/websocket"
)

// wsWriteTimeout bounds one frame write; a client that cannot take a
// frame in this time is gone.
const wsWriteTimeout = 10 * time.Second

// wsTransport carries a session over a gorilla WebSocket connection, be it
// an HTTP/1.1 upgrade or an HTTP/2 extended CONNECT stream (h2ws.go).
type wsTransport struct {
	conn        *websocket.Conn
	name        string
	pongTimeout time.Duration
	// buf grows to the largest message read (an SDP is a few KiB), not to
	// the limit: a 64 KiB buffer per session is 64 KiB per participant.
	buf []byte
}

func newWSTransport(conn *websocket.Conn, name string, limit int, pongTimeout time.Duration) *wsTransport {
	t := &wsTransport{conn: conn, name: name, pongTimeout: pongTimeout}
	conn.SetReadLimit(int64(limit * hardLimitFactor))
	t.extend()
	conn.SetPongHandler(func(string) error { t.extend(); return nil })
	return t
}

// extend pushes the read deadline on: anything from the client, message or
// pong, proves it alive.
func (t *wsTransport) extend() { _ = t.conn.SetReadDeadline(time.Now().Add(t.pongTimeout)) }

func (t *wsTransport) read(limit int) ([]byte, error) {
	for {
		kind, r, err := t.conn.NextReader()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
				return nil, &linkEnded{why: endClosed}
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return nil, &linkEnded{why: endLost, err: err}
		}
		t.extend()
		t.buf, err = readUpTo(r, t.buf[:0], limit+1)
		n := len(t.buf)
		if errors.Is(err, websocket.ErrReadLimit) {
			return nil, &linkEnded{why: endViolation, err: err}
		}
		if err != nil {
			return nil, &linkEnded{why: endLost, err: err}
		}
		if n > limit {
			// Drain the rest so the stream stays in sync; the hard read
			// limit ends the socket for absurd sizes.
			extra, derr := io.Copy(io.Discard, r)
			if errors.Is(derr, websocket.ErrReadLimit) {
				return nil, &linkEnded{why: endViolation, err: derr}
			}
			if derr != nil {
				return nil, &linkEnded{why: endLost, err: derr}
			}
			return nil, &oversizeError{size: int64(n) + extra}
		}
		if kind != websocket.TextMessage && kind != websocket.BinaryMessage {
			continue
		}
		return t.buf[:n], nil
	}
}

// readUpTo appends what r yields to buf until EOF or max bytes in all.
func readUpTo(r io.Reader, buf []byte, max int) ([]byte, error) {
	for len(buf) < max {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), max)])
		buf = buf[:len(buf)+m]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

func (t *wsTransport) write(msg []byte) error {
	_ = t.conn.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	return t.conn.WriteMessage(websocket.TextMessage, msg)
}

func (t *wsTransport) keepalive() error {
	_ = t.conn.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	return t.conn.WriteMessage(websocket.PingMessage, nil)
}

func (t *wsTransport) finish() {
	_ = t.conn.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	_ = t.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
}

func (t *wsTransport) close()             { _ = t.conn.Close() }
func (t *wsTransport) kind() string       { return t.name }
func (t *wsTransport) remoteAddr() string { return t.conn.RemoteAddr().String() }
