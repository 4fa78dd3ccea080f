package signaling

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hibiki-sfu/hibiki/sfu"
)

// waitTimeout bounds every wait for a message; events normally arrive in
// milliseconds, so only a broken server reaches it.
const waitTimeout = 5 * time.Second

type harness struct {
	sfu *sfu.SFU
	sig *Server
	url string      // ws://host or wss://host
	tls *tls.Config // trusts the server's certificate (TLS harness only)
}

func newHarness(t *testing.T, configure func(*Config)) *harness {
	t.Helper()
	return startHarness(t, configure, false)
}

// startHarness runs the server over TLS with HTTP/2 when secure is set
// (the harness then keeps the server's certificate pool in roots).
func startHarness(t testing.TB, configure func(*Config), secure bool) *harness {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := sfu.New(sfu.DefaultRTCConfig(), sfu.WithLogger(logger))
	if err != nil {
		t.Fatalf("sfu.New: %v", err)
	}
	cfg := Config{
		Verifier:       KeySet{testKey: testSecret},
		MaxMessageSize: 1024,
		Logger:         logger,
	}
	if configure != nil {
		configure(&cfg)
	}
	sig := NewServer(s, cfg)
	mux := http.NewServeMux()
	mux.Handle("/", sig)
	mux.Handle("/lp", sig.LongPoll())
	ts := httptest.NewUnstartedServer(mux)
	if secure {
		ts.EnableHTTP2 = true
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(func() {
		sig.Close()
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("sfu.Close: %v", err)
		}
	})
	h := &harness{sfu: s, sig: sig, url: "ws" + strings.TrimPrefix(ts.URL, "http")}
	if secure {
		h.tls = ts.Client().Transport.(*http.Transport).TLSClientConfig
	}
	return h
}

// participants returns the SIDs of the participants in room.
func (h *harness) participants(room string) []string {
	r := h.sfu.Room(room)
	if r == nil {
		return nil
	}
	var sids []string
	for _, p := range r.Participants() {
		sids = append(sids, p.SID())
	}
	return sids
}

func (h *harness) token(t *testing.T, room, identity string, grants Grants) string {
	t.Helper()
	tok, err := NewToken(testKey, testSecret, room, identity, strings.ToUpper(identity), grants, time.Hour)
	if err != nil {
		t.Fatalf("NewToken: %v", err)
	}
	return tok
}

// client is a test WebSocket client. A reader goroutine answers the
// server's pings (gorilla does that inside ReadMessage) and queues messages.
type client struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan *Message
	done chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	readEr error
	nextID int
}

// dial connects without starting the reader: the socket answers no pings
// until startReading is called.
func (h *harness) dial(t *testing.T) *client {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(h.url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	_ = resp.Body.Close()
	c := &client{t: t, conn: conn, msgs: make(chan *Message, 64), done: make(chan struct{})}
	t.Cleanup(func() {
		close(c.done)
		_ = c.conn.Close()
		c.wg.Wait()
	})
	return c
}

// connect dials and starts the reader.
func (h *harness) connect(t *testing.T) *client {
	t.Helper()
	c := h.dial(t)
	c.startReading()
	return c
}

func (c *client) startReading() {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(c.msgs)
		for {
			_, data, err := c.conn.ReadMessage()
			if err != nil {
				c.mu.Lock()
				c.readEr = err
				c.mu.Unlock()
				return
			}
			var m Message
			if err := json.Unmarshal(data, &m); err != nil {
				c.t.Errorf("server sent invalid JSON %q: %v", data, err)
				return
			}
			select {
			case c.msgs <- &m:
			case <-c.done:
				return
			}
		}
	}()
}

func (c *client) sendRaw(data string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(data)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) send(m *Message) {
	c.t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(data))
}

// await returns the first message matching pred, skipping others (events
// such as trickled candidates may come in between).
func (c *client) await(what string, pred func(*Message) bool) *Message {
	c.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.mu.Lock()
				err := c.readEr
				c.mu.Unlock()
				c.t.Fatalf("socket closed while waiting for %s: %v", what, err)
			}
			if pred(m) {
				return m
			}
			c.t.Logf("skipped %s while waiting for %s", m.Type, what)
		case <-timer.C:
			c.t.Fatalf("no %s within %v", what, waitTimeout)
		}
	}
}

// request sends m with a fresh id and returns the reply (or error) that
// carries that id.
func (c *client) request(m *Message) *Message {
	c.t.Helper()
	c.nextID++
	m.ID = "req-" + strconv.Itoa(c.nextID)
	c.send(m)
	return c.await("reply to "+m.ID, func(r *Message) bool { return r.ID == m.ID })
}

func (c *client) ping() {
	c.t.Helper()
	if r := c.request(&Message{Type: TypePing}); r.Type != TypePong {
		c.t.Fatalf("ping answered with %+v", r)
	}
}

// expectClosed waits until the server closes the socket; messages still
// queued before the close are returned.
func (c *client) expectClosed() []*Message {
	c.t.Helper()
	var rest []*Message
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				return rest
			}
			rest = append(rest, m)
		case <-timer.C:
			c.t.Fatalf("socket still open after %v; got %d messages", waitTimeout, len(rest))
		}
	}
}

// expectNormalClose waits for the server to close the socket with a close
// frame (code 1000), which it sends after flushing its last reply.
func (c *client) expectNormalClose() {
	c.t.Helper()
	if rest := c.expectClosed(); len(rest) != 0 {
		c.t.Errorf("messages before the close: %+v", rest)
	}
	c.mu.Lock()
	err := c.readEr
	c.mu.Unlock()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		c.t.Errorf("socket ended with %v, want a normal close", err)
	}
}

func (c *client) join(token string) *Message {
	c.t.Helper()
	r := c.request(&Message{Type: TypeJoin, Token: token})
	if r.Type != TypeJoined {
		c.t.Fatalf("join answered with %+v", r)
	}
	return r
}

func isType(typ string) func(*Message) bool { return func(m *Message) bool { return m.Type == typ } }

func TestRequestBeforeJoin(t *testing.T) {
	h := newHarness(t, nil)
	c := h.connect(t)
	tests := []struct {
		name string
		msg  Message
	}{
		{"offer", Message{Type: TypeOffer, Target: TargetPublish, SDP: "v=0\r\n"}},
		{"answer", Message{Type: TypeAnswer, Target: TargetSubscribe, SDP: "v=0\r\n"}},
		{"candidate", Message{Type: TypeCandidate, Target: TargetPublish, Candidate: &ICECandidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host"}}},
		{"publish", Message{Type: TypePublish, Track: &TrackInfo{ClientID: "c", Kind: "audio"}}},
		{"unpublish", Message{Type: TypeUnpublish, TrackSID: "TR_x"}},
		{"mute", Message{Type: TypeMute, TrackSID: "TR_x", Muted: boolPtr(true)}},
		{"subscribe", Message{Type: TypeSubscribe, TrackSID: "TR_x"}},
		{"unsubscribe", Message{Type: TypeUnsubscribe, TrackSID: "TR_x"}},
		{"setVideoSize", Message{Type: TypeSetVideoSize, TrackSID: "TR_x", Width: 1, Height: 1}},
		{"leave", Message{Type: TypeLeave}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			r := c.request(&tt.msg)
			if r.Type != TypeError || r.Code != CodeNotJoined {
				t.Fatalf("reply = %+v, want error %s", r, CodeNotJoined)
			}
			c.ping()
		})
	}
	c.t = t
	// The refusals changed nothing: the socket can still join.
	j := c.join(h.token(t, "before", "late", AllGrants()))
	if got := h.participants("before"); !slices.Equal(got, []string{j.SessionID}) {
		t.Errorf("room holds %v, want [%s]", got, j.SessionID)
	}
}

func TestJoinRefused(t *testing.T) {
	h := newHarness(t, nil)
	forged, err := NewToken(testKey, "not-the-secret", "refused", "mallory", "", AllGrants(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := NewToken(testKey, testSecret, "refused", "late", "", AllGrants(), -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	unknownKey, err := NewToken("other-key", testSecret, "refused", "x", "", AllGrants(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		code  string
	}{
		{"forged", forged, CodeBadToken},
		{"expired", expired, CodeTokenExpired},
		{"unknown key", unknownKey, CodeBadToken},
		{"garbage", "garbage", CodeBadToken},
		{"missing", "", CodeBadToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.connect(t)
			r := c.request(&Message{Type: TypeJoin, Token: tt.token})
			if r.Type != TypeError || r.Code != tt.code {
				t.Fatalf("reply = %+v, want error %s", r, tt.code)
			}
			if r.Message == "" {
				t.Error("error without a message")
			}
			c.expectNormalClose()
			if got := h.participants("refused"); len(got) != 0 {
				t.Errorf("room holds %v after a refused join", got)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.ICEServers = []ICEServer{{URLs: []string{"stun:stun.example.org:3478"}}}
	})
	a := h.connect(t)
	ja := a.join(h.token(t, "demo", "alice", AllGrants()))
	if ja.Room != "demo" || ja.SessionID == "" || ja.Participant == nil ||
		ja.Participant.SID != ja.SessionID || ja.Participant.Identity != "alice" || ja.Participant.Name != "ALICE" {
		t.Fatalf("joined = %+v (participant %+v)", ja, ja.Participant)
	}
	if len(ja.Participants) != 0 {
		t.Errorf("first participant sees others: %+v", ja.Participants)
	}
	if len(ja.ICEServers) != 1 || ja.ICEServers[0].URLs[0] != "stun:stun.example.org:3478" {
		t.Errorf("iceServers = %+v", ja.ICEServers)
	}

	b := h.connect(t)
	jb := b.join(h.token(t, "demo", "bob", AllGrants()))
	if len(jb.Participants) != 1 || jb.Participants[0].SID != ja.SessionID || jb.Participants[0].Identity != "alice" {
		t.Errorf("bob's joined lists %+v, want alice", jb.Participants)
	}
	ev := a.await("participantJoined", isType(TypeParticipantJoined))
	if ev.ID != "" || ev.Participant == nil || ev.Participant.SID != jb.SessionID || ev.Participant.Identity != "bob" {
		t.Errorf("participantJoined = %+v (participant %+v)", ev, ev.Participant)
	}
	if got := h.participants("demo"); !slices.Equal(got, []string{ja.SessionID, jb.SessionID}) {
		t.Errorf("room holds %v", got)
	}

	// A second join on a joined socket is refused and changes nothing.
	r := a.request(&Message{Type: TypeJoin, Token: h.token(t, "other", "alice", AllGrants())})
	if r.Type != TypeError || r.Code != CodeBadRequest {
		t.Errorf("second join = %+v, want bad_request", r)
	}
	a.ping()
	if h.sfu.Room("other") != nil {
		t.Error("second join created a room")
	}
}

func TestRefusedRequestsKeepSession(t *testing.T) {
	h := newHarness(t, nil) // MaxMessageSize 1024
	const room = "refusals"
	full := h.connect(t)
	jf := full.join(h.token(t, room, "full", AllGrants()))
	viewer := h.connect(t)
	jv := viewer.join(h.token(t, room, "viewer", Grants{CanSubscribe: true}))
	publisher := h.connect(t)
	jp := publisher.join(h.token(t, room, "publisher", Grants{CanPublish: true}))
	full.await("participantJoined", func(m *Message) bool { return m.Type == TypeParticipantJoined && m.Participant.SID == jp.SessionID })
	sids := map[*client]string{full: jf.SessionID, viewer: jv.SessionID, publisher: jp.SessionID}

	tests := []struct {
		name string
		as   *client // nil: the participant holding every grant
		raw  string  // sent as is when set (no id can be echoed)
		msg  Message
		code string
	}{
		{name: "bad json", raw: `{"type":"ping",`, code: CodeBadJSON},
		{name: "not an object", raw: `["ping"]`, code: CodeBadJSON},
		{name: "missing type", raw: `{"id":"x"}`, code: CodeBadRequest},
		{name: "oversized", raw: `{"type":"ping","id":"big","pad":"` + strings.Repeat("x", 2000) + `"}`, code: CodeTooLarge},
		{name: "unknown type", msg: Message{Type: "dance"}, code: CodeUnknownType},
		{name: "publish without canPublish", as: viewer, msg: Message{Type: TypePublish, Track: &TrackInfo{ClientID: "cam", Kind: "video"}}, code: CodeForbidden},
		{name: "subscribe without canSubscribe", as: publisher, msg: Message{Type: TypeSubscribe, TrackSID: "TR_x"}, code: CodeForbidden},
		{name: "publish bad kind", msg: Message{Type: TypePublish, Track: &TrackInfo{ClientID: "c", Kind: "smell"}}, code: CodeBadRequest},
		{name: "publish without track", msg: Message{Type: TypePublish}, code: CodeBadRequest},
		{name: "publish without cid", msg: Message{Type: TypePublish, Track: &TrackInfo{Kind: "audio"}}, code: CodeBadRequest},
		{name: "publish bad source", msg: Message{Type: TypePublish, Track: &TrackInfo{ClientID: "c", Kind: "audio", Source: "radio"}}, code: CodeBadRequest},
		{name: "publish four layers", msg: Message{Type: TypePublish, Track: &TrackInfo{ClientID: "c", Kind: "video",
			Layers: []Layer{{RID: "a"}, {RID: "b"}, {RID: "c"}, {RID: "d"}}}}, code: CodeBadRequest},
		{name: "unpublish unknown", msg: Message{Type: TypeUnpublish, TrackSID: "TR_nope"}, code: CodeNotFound},
		{name: "mute unknown", msg: Message{Type: TypeMute, TrackSID: "TR_nope", Muted: boolPtr(true)}, code: CodeNotFound},
		{name: "mute without muted", msg: Message{Type: TypeMute, TrackSID: "TR_nope"}, code: CodeBadRequest},
		{name: "subscribe unknown", as: viewer, msg: Message{Type: TypeSubscribe, TrackSID: "TR_nope"}, code: CodeNotFound},
		{name: "unsubscribe unknown", msg: Message{Type: TypeUnsubscribe, TrackSID: "TR_nope"}, code: CodeNotFound},
		{name: "setVideoSize negative", msg: Message{Type: TypeSetVideoSize, TrackSID: "TR_nope", Width: -1}, code: CodeBadRequest},
		{name: "setVideoSize maxLayer 3", msg: Message{Type: TypeSetVideoSize, TrackSID: "TR_nope", MaxLayer: intPtr(3)}, code: CodeBadRequest},
		{name: "setVideoSize unknown", msg: Message{Type: TypeSetVideoSize, TrackSID: "TR_nope", Width: 10, Height: 10}, code: CodeNotFound},
		{name: "offer on subscribe", msg: Message{Type: TypeOffer, Target: TargetSubscribe, SDP: "v=0\r\n"}, code: CodeBadRequest},
		{name: "offer without sdp", msg: Message{Type: TypeOffer, Target: TargetPublish}, code: CodeBadRequest},
		{name: "offer with garbage sdp", msg: Message{Type: TypeOffer, Target: TargetPublish, SDP: "hello"}, code: CodeBadRequest},
		{name: "answer on publish", msg: Message{Type: TypeAnswer, Target: TargetPublish, SDP: "v=0\r\n"}, code: CodeBadRequest},
		{name: "answer without offer", msg: Message{Type: TypeAnswer, Target: TargetSubscribe, SDP: "v=0\r\n"}, code: CodeBadRequest},
		{name: "candidate bad target", msg: Message{Type: TypeCandidate, Target: "sideways", Candidate: &ICECandidate{Candidate: "c"}}, code: CodeBadRequest},
		{name: "candidate missing", msg: Message{Type: TypeCandidate, Target: TargetPublish}, code: CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := full
			if tt.as != nil {
				c = tt.as
			}
			sid := sids[c]
			c.t = t
			defer func() { c.t = nil }()
			var r *Message
			if tt.raw != "" {
				c.sendRaw(tt.raw)
				r = c.await("error", isType(TypeError))
				if r.ID != "" {
					t.Errorf("error to an undecodable frame carries id %q", r.ID)
				}
			} else {
				r = c.request(&tt.msg)
				if r.ID != tt.msg.ID {
					t.Errorf("reply id %q, want %q", r.ID, tt.msg.ID)
				}
			}
			if r.Type != TypeError || r.Code != tt.code {
				t.Fatalf("reply = %+v, want error %s", r, tt.code)
			}
			if r.Message == "" {
				t.Error("error without a message")
			}
			c.ping()
			if got := h.participants(room); !slices.Contains(got, sid) || len(got) != len(sids) {
				t.Errorf("room holds %v, want all %d participants", got, len(sids))
			}
		})
	}
	// The refusals left a working session behind: it can still publish
	// and mute the announced track.
	full.t = t
	r := full.request(&Message{Type: TypePublish, Track: &TrackInfo{ClientID: "mic", Kind: "audio"}})
	if r.Type != TypePublished || r.Track == nil || r.Track.SID == "" || r.Track.Source != SourceMicrophone {
		t.Fatalf("publish = %+v", r)
	}
	if r := full.request(&Message{Type: TypeMute, TrackSID: r.Track.SID, Muted: boolPtr(true)}); r.Type != TypeOK {
		t.Errorf("mute = %+v", r)
	}
}

func TestHardSizeLimitClosesSocket(t *testing.T) {
	h := newHarness(t, nil)
	observer := h.connect(t)
	observer.join(h.token(t, "huge", "observer", AllGrants()))
	c := h.connect(t)
	j := c.join(h.token(t, "huge", "h", AllGrants()))
	// Past hardLimitFactor times the limit the frame is not read to its
	// end: the socket is closed instead of answered with too_large.
	c.sendRaw(`{"type":"ping","pad":"` + strings.Repeat("x", 1024*hardLimitFactor) + `"}`)
	c.expectClosed()
	left := observer.await("participantLeft", isType(TypeParticipantLeft))
	if left.ParticipantSID != j.SessionID {
		t.Errorf("participantLeft for %q, want %q", left.ParticipantSID, j.SessionID)
	}
}

func TestLeave(t *testing.T) {
	h := newHarness(t, nil)
	a := h.connect(t)
	ja := a.join(h.token(t, "bye", "alice", AllGrants()))
	b := h.connect(t)
	jb := b.join(h.token(t, "bye", "bob", AllGrants()))
	a.await("participantJoined", isType(TypeParticipantJoined))

	r := a.request(&Message{Type: TypeLeave})
	if r.Type != TypeOK {
		t.Fatalf("leave = %+v", r)
	}
	a.expectNormalClose()
	ev := b.await("participantLeft", isType(TypeParticipantLeft))
	if ev.ParticipantSID != ja.SessionID {
		t.Errorf("participantLeft names %q, want %q", ev.ParticipantSID, ja.SessionID)
	}
	if got := h.participants("bye"); !slices.Equal(got, []string{jb.SessionID}) {
		t.Errorf("room holds %v, want [%s]", got, jb.SessionID)
	}
	b.ping()
}

func TestKeepaliveRemovesSilentClient(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.PingInterval = 50 * time.Millisecond
		c.PongTimeout = 300 * time.Millisecond
	})
	a := h.connect(t)
	ja := a.join(h.token(t, "keepalive", "alive", AllGrants()))

	// silent reads only its joined reply, then never again, so gorilla
	// never answers the server's pings.
	silent := h.dial(t)
	silent.send(&Message{Type: TypeJoin, ID: "j", Token: h.token(t, "keepalive", "silent", AllGrants())})
	_ = silent.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	_, data, err := silent.conn.ReadMessage()
	if err != nil {
		t.Fatalf("read joined: %v", err)
	}
	var js Message
	if err := json.Unmarshal(data, &js); err != nil || js.Type != TypeJoined {
		t.Fatalf("silent join reply %s (%v)", data, err)
	}

	joined := a.await("participantJoined", isType(TypeParticipantJoined))
	if joined.Participant.SID != js.SessionID {
		t.Fatalf("participantJoined for %q, want %q", joined.Participant.SID, js.SessionID)
	}
	start := time.Now()
	left := a.await("participantLeft", isType(TypeParticipantLeft))
	if left.ParticipantSID != js.SessionID {
		t.Fatalf("participantLeft for %q, want %q", left.ParticipantSID, js.SessionID)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("silent client removed after %v, before the pong timeout", waited)
	}
	// The client answering pings stays, well past several timeouts.
	if got := h.participants("keepalive"); !slices.Equal(got, []string{ja.SessionID}) {
		t.Errorf("room holds %v, want [%s]", got, ja.SessionID)
	}
	a.ping()
}

func TestServerCloseEndsSessions(t *testing.T) {
	h := newHarness(t, nil)
	a := h.connect(t)
	a.join(h.token(t, "closing", "a", AllGrants()))
	b := h.connect(t)
	b.join(h.token(t, "closing", "b", AllGrants()))
	idle := h.connect(t) // never joins
	idle.ping()
	if n := h.sig.Sessions(); n != 3 {
		t.Fatalf("Sessions() = %d, want 3", n)
	}
	h.sig.Close()
	for _, c := range []*client{a, b, idle} {
		c.expectClosed()
	}
	if n := h.sig.Sessions(); n != 0 {
		t.Errorf("Sessions() = %d after Close", n)
	}
	if got := h.participants("closing"); len(got) != 0 {
		t.Errorf("room holds %v after Close", got)
	}
	// A socket opened after Close is closed at once.
	late := h.connect(t)
	late.expectClosed()
}
