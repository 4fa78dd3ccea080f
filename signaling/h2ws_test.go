package signaling

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hibiki-sfu/hibiki/internal/h2ws"
	_ "github.com/hibiki-sfu/hibiki/internal/xconnect" // extended CONNECT in this test binary
	"golang.org/x/net/http2"
)

// tlsClient wraps a socket dialed by the test into the harness's client.
func (h *harness) wrap(t *testing.T, conn *websocket.Conn) *client {
	t.Helper()
	c := &client{t: t, conn: conn, msgs: make(chan *Message, 64), done: make(chan struct{})}
	t.Cleanup(func() {
		close(c.done)
		_ = c.conn.Close()
		c.wg.Wait()
	})
	c.startReading()
	return c
}

// The server announces SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 in its first
// SETTINGS frame (RFC 8441 section 3).
func TestH2SettingsAnnounceExtendedConnect(t *testing.T) {
	h := startHarness(t, nil, true)
	got, err := readH2Settings(strings.TrimPrefix(h.url, "wss://"), h.tls)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got[http2.SettingEnableConnectProtocol]; !ok || v != 1 {
		t.Fatalf("server SETTINGS %v lack ENABLE_CONNECT_PROTOCOL=1", got)
	}
}

// readH2Settings opens an HTTP/2 connection and returns the server's
// first SETTINGS frame.
func readH2Settings(addr string, cfg *tls.Config) (map[http2.SettingID]uint32, error) {
	cfg = cfg.Clone()
	cfg.NextProtos = []string{http2.NextProtoTLS}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: waitTimeout}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		return nil, err
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		return nil, err
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			got := map[http2.SettingID]uint32{}
			_ = sf.ForeachSetting(func(s http2.Setting) error { got[s.ID] = s.Val; return nil })
			return got, nil
		}
	}
}

// A client joins over a WebSocket on an HTTP/2 stream, and another over a
// classic HTTP/1.1 upgrade on the same TLS port; they see each other.
func TestWebSocketOverHTTP2(t *testing.T) {
	h := startHarness(t, nil, true)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	d := h2ws.Dialer{TLSConfig: h.tls}
	conn, err := d.Dial(ctx, h.url+"/ws")
	if err != nil {
		t.Fatalf("dial over http/2: %v", err)
	}
	a := h.wrap(t, conn)
	a.join(h.token(t, "h2", "alice", AllGrants()))
	a.ping()

	wd := websocket.Dialer{TLSClientConfig: h.tls}
	conn1, resp, err := wd.DialContext(ctx, h.url+"/ws", nil)
	if err != nil {
		t.Fatalf("dial over http/1.1: %v", err)
	}
	_ = resp.Body.Close()
	if resp.ProtoMajor != 1 {
		t.Errorf("classic upgrade went over %s", resp.Proto)
	}
	b := h.wrap(t, conn1)
	b.join(h.token(t, "h2", "bob", AllGrants()))
	m := a.await("participantJoined", isType(TypeParticipantJoined))
	if m.Participant.Identity != "bob" {
		t.Errorf("participantJoined %+v", m.Participant)
	}
	// Size limits hold on the stream as on a socket.
	a.sendRaw(`{"type":"ping","id":"` + strings.Repeat("x", 2048) + `"}`)
	if e := a.await("too_large", isType(TypeError)); e.Code != CodeTooLarge {
		t.Errorf("oversized frame answered %+v", e)
	}
	a.ping()
	// Leave closes the stream normally.
	if r := a.request(&Message{Type: TypeLeave}); r.Type != TypeOK {
		t.Fatalf("leave answered %+v", r)
	}
	a.expectClosed()
	b.await("participantLeft", isType(TypeParticipantLeft))
}

// A CONNECT without the WebSocket version is refused with the protocol's
// error body.
func TestWebSocketOverHTTP2Refused(t *testing.T) {
	h := startHarness(t, nil, true)
	tr := &http2.Transport{TLSClientConfig: h.tls}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodConnect, "https"+strings.TrimPrefix(h.url, "wss")+"/ws", http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(":protocol", "websocket")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("CONNECT without sec-websocket-version answered %s", resp.Status)
	}
}
