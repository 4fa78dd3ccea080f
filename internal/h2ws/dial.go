// Package h2ws dials a WebSocket over HTTP/2 (RFC 8441, extended CONNECT)
// for Go clients: the bots and the tests. gorilla/websocket speaks only the
// HTTP/1.1 handshake, so the CONNECT request goes through
// golang.org/x/net/http2, and gorilla's framing runs on the resulting
// stream, which stream presents as a net.Conn. gorilla writes its HTTP/1.1
// upgrade request into that conn first; stream swallows it and answers
// with the 101 response gorilla expects, since the real handshake already
// happened in HTTP/2 headers.
package h2ws

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/gorilla/websocket"
	"golang.org/x/net/http2"
)

// ErrRefused reports a server that answered the CONNECT with a status
// other than 200 (or that does not announce extended CONNECT).
var ErrRefused = errors.New("h2ws: websocket over http/2 refused")

// Dialer opens WebSockets over HTTP/2.
type Dialer struct {
	// TLSConfig verifies the server; nil uses the system roots.
	TLSConfig *tls.Config
	// NetDialContext, when set, makes the TCP connection.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// ReadLimit bounds a message from the server (0: gorilla's default).
	ReadLimit int64
}

// Dial opens a WebSocket at rawURL (wss:// or https://) on a new HTTP/2
// connection of its own; closing the socket closes that connection. ctx
// bounds the handshake only.
func (d *Dialer) Dial(ctx context.Context, rawURL string) (*websocket.Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("h2ws: %w", err)
	}
	u.Scheme = "https"
	tlsConn, err := d.dialTLS(ctx, u)
	if err != nil {
		return nil, err
	}
	tr := &http2.Transport{}
	cc, err := tr.NewClientConn(tlsConn)
	if err != nil {
		_ = tlsConn.Close()
		return nil, fmt.Errorf("h2ws: %w", err)
	}
	// The stream lives beyond ctx; its own context ends it on Close.
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(life, http.MethodConnect, u.String(), pr)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("h2ws: %w", err)
	}
	req.Header.Set(":protocol", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	stop := context.AfterFunc(ctx, cancel)
	resp, err := cc.RoundTrip(req)
	stop()
	release := func() {
		cancel()
		_ = cc.Close()
	}
	if err != nil {
		release()
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_ = resp.Body.Close()
		release()
		return nil, fmt.Errorf("%w: %s: %s", ErrRefused, resp.Status, body)
	}
	s := newStream(resp.Body, pw, release)
	wd := websocket.Dialer{NetDialContext: func(context.Context, string, string) (net.Conn, error) { return s, nil }}
	conn, hresp, err := wd.DialContext(ctx, "ws://"+u.Host+u.RequestURI(), nil)
	if hresp != nil && hresp.Body != nil {
		_ = hresp.Body.Close()
	}
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("h2ws: frame the stream: %w", err)
	}
	if d.ReadLimit > 0 {
		conn.SetReadLimit(d.ReadLimit)
	}
	return conn, nil
}

// dialTLS opens the TLS connection, insisting on HTTP/2 by ALPN.
func (d *Dialer) dialTLS(ctx context.Context, u *url.URL) (*tls.Conn, error) {
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	dial := d.NetDialContext
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("h2ws: dial %s: %w", addr, err)
	}
	cfg := &tls.Config{}
	if d.TLSConfig != nil {
		cfg = d.TLSConfig.Clone()
	}
	cfg.NextProtos = []string{http2.NextProtoTLS}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("h2ws: tls: %w", err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != http2.NextProtoTLS {
		_ = c.Close()
		return nil, fmt.Errorf("%w: the server did not negotiate h2 (ALPN %q)", ErrRefused, p)
	}
	return c, nil
}
