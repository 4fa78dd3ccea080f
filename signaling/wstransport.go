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
	buf         []byte
}

func newWSTransport(conn *websocket.Conn, name string, limit int, pongTimeout time.Duration) *wsTransport {
	t := &wsTransport{conn: conn, name: name, pongTimeout: pongTimeout, buf: make([]byte, limit+1)}
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
		n, err := io.ReadFull(r, t.buf[:limit+1])
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = nil
		}
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
