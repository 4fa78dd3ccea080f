package bot

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hibiki-sfu/hibiki/internal/h2ws"
)

// Signaling transports a bot can use (Config.Transport, --transport).
const (
	// TransportWebSocket is a WebSocket by HTTP/1.1 upgrade (the default).
	TransportWebSocket = "ws"
	// TransportWebSocketH2 is a WebSocket on an HTTP/2 stream (RFC 8441
	// extended CONNECT); the URL must be wss://.
	TransportWebSocketH2 = "ws-h2"
	// TransportLongPoll is the HTTP long-poll fallback at /lp next to /ws.
	TransportLongPoll = "longpoll"
)

// link is one signaling connection of the bot, whatever its transport:
// ordered messages both ways. Signal replaces it on resume.
type link interface {
	// send writes one message; the zero deadline means none.
	send(data []byte, deadline time.Time) error
	// receive returns the next message; the zero deadline means none.
	receive(deadline time.Time) ([]byte, error)
	// drop ends the link as a lost network would: no goodbye.
	drop()
	// close ends it normally: the server removes the participant at once.
	close() error
}

// linkDialer opens links to one server.
type linkDialer struct {
	url       string
	transport string
	tls       *tls.Config
	netDial   func(ctx context.Context, network, addr string) (net.Conn, error)
	lp        lpOptions
}

func (d *linkDialer) dial(ctx context.Context) (link, error) {
	switch d.transport {
	case TransportLongPoll:
		return dialLongPoll(ctx, d.url, d.lp)
	case TransportWebSocketH2:
		h := h2ws.Dialer{TLSConfig: d.tls, NetDialContext: d.netDial, ReadLimit: readLimit}
		conn, err := h.Dial(ctx, d.url)
		if err != nil {
			return nil, fmt.Errorf("dial %s over http/2: %w", d.url, err)
		}
		return &wsLink{conn: conn}, nil
	default:
		conn, err := dialWS(ctx, d.url, d.netDial, d.tls)
		if err != nil {
			return nil, err
		}
		return &wsLink{conn: conn}, nil
	}
}

// dialWS opens a WebSocket; dial, when set, makes the TCP connection (a
// test binds it to a namespace address).
func dialWS(ctx context.Context, url string, dial func(ctx context.Context, network, addr string) (net.Conn, error), tlsConfig *tls.Config) (*websocket.Conn, error) {
	d := *websocket.DefaultDialer
	d.NetDialContext = dial
	d.TLSClientConfig = tlsConfig
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

// wsLink is a gorilla WebSocket, over HTTP/1.1 or an HTTP/2 stream.
type wsLink struct{ conn *websocket.Conn }

func (l *wsLink) send(data []byte, deadline time.Time) error {
	if err := l.conn.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if err := l.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

func (l *wsLink) receive(deadline time.Time) ([]byte, error) {
	_ = l.conn.SetReadDeadline(deadline)
	_, data, err := l.conn.ReadMessage()
	if err != nil {
		return nil, fmt.Errorf("read frame: %w", err)
	}
	return data, nil
}

func (l *wsLink) drop() { _ = l.conn.NetConn().Close() }

func (l *wsLink) close() error {
	_ = l.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = l.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	if err := l.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close websocket: %w", err)
	}
	return nil
}
