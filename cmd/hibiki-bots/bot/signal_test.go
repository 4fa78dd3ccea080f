package bot

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// fakeServer answers join, closes the socket after leave, and hands every
// other frame to onMessage, which may write back through send.
type fakeServer struct {
	*httptest.Server
	url string
}

func newFakeServer(t *testing.T, onMessage func(m *signaling.Message, raw []byte, send func(any))) *fakeServer {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		send := func(v any) { _ = c.WriteJSON(v) }
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			var m signaling.Message
			if json.Unmarshal(data, &m) != nil {
				send(&signaling.Message{Type: signaling.TypeError, Code: signaling.CodeBadJSON})
				continue
			}
			if m.Type == signaling.TypeLeave { // like the real server: reply, then close
				send(&signaling.Message{Type: signaling.TypeOK, ID: m.ID})
				return
			}
			if m.Type == signaling.TypeJoin {
				send(&signaling.Message{Type: signaling.TypeJoined, ID: m.ID, Room: "r",
					Participant: &signaling.ParticipantInfo{SID: "PA_self", Identity: "me"}, SessionID: "sess"})
				continue
			}
			onMessage(&m, data, send)
		}
	}))
	t.Cleanup(srv.Close)
	return &fakeServer{Server: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"}
}

func TestSignalRequests(t *testing.T) {
	srv := newFakeServer(t, func(m *signaling.Message, _ []byte, send func(any)) {
		switch m.Type {
		case signaling.TypePing:
			send(&signaling.Message{Type: signaling.TypePong, ID: m.ID})
		case signaling.TypeMute:
			send(&signaling.Message{Type: signaling.TypeError, ID: m.ID, Code: signaling.CodeNotFound, Message: "no track"})
		case signaling.TypeOffer:
			send(&signaling.Message{Type: signaling.TypeAnswer, Target: signaling.TargetPublish, SDP: "v=0"}) // no id
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := dialSignal(ctx, srv.url, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan *signaling.Message, 8)
	loopDone := make(chan error, 1)
	go func() { loopDone <- s.readLoop(func(m *signaling.Message) { events <- m }) }()

	reply, err := s.Request(ctx, &signaling.Message{Type: signaling.TypePing})
	if err != nil || reply.Type != signaling.TypePong {
		t.Fatalf("ping: %+v %v", reply, err)
	}
	_, err = s.Request(ctx, &signaling.Message{Type: signaling.TypeMute, TrackSID: "TR_x"})
	var se *signaling.Error
	if !errors.As(err, &se) || se.Code != signaling.CodeNotFound {
		t.Fatalf("mute error = %v", err)
	}
	// An id-less answer is a plain event for readLoop; requestOr takes it
	// from the alternative channel.
	id := s.newID()
	alt := make(chan *signaling.Message, 1)
	go func() { alt <- <-events }()
	reply, err = s.requestOr(ctx, id, &signaling.Message{Type: signaling.TypeOffer, ID: id, Target: signaling.TargetPublish}, alt)
	if err != nil || reply.SDP != "v=0" {
		t.Fatalf("offer: %+v %v", reply, err)
	}
	if err := s.SendRaw([]byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if m := <-events; m.Type != signaling.TypeError || m.Code != signaling.CodeBadJSON {
		t.Fatalf("event %+v", m)
	}
	if errs := s.LastErrors(); len(errs) != 2 || errs[1].Code != signaling.CodeBadJSON {
		t.Fatalf("LastErrors = %+v", errs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-loopDone
	if _, err := s.Request(ctx, &signaling.Message{Type: signaling.TypePing}); !errors.Is(err, ErrClosed) {
		t.Fatalf("request after close: %v", err)
	}
}

// TestBotEvents joins a fake server without media and checks that room
// events reach the waiters and the room view.
func TestBotEvents(t *testing.T) {
	yes := true
	srv := newFakeServer(t, func(m *signaling.Message, _ []byte, send func(any)) {
		if m.Type != signaling.TypePing {
			return
		}
		send(&signaling.Message{Type: signaling.TypePong, ID: m.ID})
		send(&signaling.Message{Type: signaling.TypeParticipantJoined, Participant: &signaling.ParticipantInfo{SID: "PA_2", Identity: "b"}})
		send(&signaling.Message{Type: signaling.TypeTrackPublished, ParticipantSID: "PA_2", Track: &signaling.TrackInfo{SID: "TR_2", Kind: "video"}})
		send(&signaling.Message{Type: signaling.TypeTrackMuted, ParticipantSID: "PA_2", TrackSID: "TR_2", Muted: &yes})
		send(&signaling.Message{Type: signaling.TypeCandidate, Target: signaling.TargetSubscribe,
			Candidate: &signaling.ICECandidate{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"}})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := New(Config{URL: srv.url, Room: "r", Identity: "me", Subscribe: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if b.Self().SID != "PA_self" || b.SessionID() != "sess" {
		t.Errorf("self %+v session %q", b.Self(), b.SessionID())
	}
	if err := b.Signal().Send(&signaling.Message{Type: signaling.TypePing, ID: "p"}); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitParticipants(ctx, 1); err != nil {
		t.Fatal(err)
	}
	m, err := b.WaitMessage(ctx, func(m *signaling.Message) bool { return m.Type == signaling.TypeTrackMuted })
	if err != nil || m.TrackSID != "TR_2" {
		t.Fatalf("trackMuted: %+v %v", m, err)
	}
	if tr := b.RemoteTracks(); len(tr) != 1 || !tr[0].Muted {
		t.Errorf("remote tracks %+v", tr)
	}
	if s := b.Stats(); s.State != StateJoined || s.ParticipantSID != "PA_self" {
		t.Errorf("stats %+v", s)
	}
	if err := b.Connect(ctx); !errors.Is(err, ErrAlreadyConnected) {
		t.Errorf("second Connect: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitTracks(ctx, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitTracks on a closed bot: %v", err)
	}
}

func TestBotRunEndsWithServer(t *testing.T) {
	srv := newFakeServer(t, func(*signaling.Message, []byte, func(any)) {})
	b, err := New(Config{URL: srv.url, Room: "r", Identity: "me"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	if err := b.notify.waitFor(ctx, b.done, func() bool { return b.Stats().State == StateJoined }); err != nil {
		t.Fatal(err)
	}
	// leave sent raw, so the bot does not expect the close: for Run it is
	// the server ending the session.
	if err := b.Signal().Send(&signaling.Message{Type: signaling.TypeLeave}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("Run returned nil after the server dropped the socket")
	}
}

func TestBotLeave(t *testing.T) {
	srv := newFakeServer(t, func(*signaling.Message, []byte, func(any)) {})
	b, err := New(Config{URL: srv.url, Room: "r", Identity: "me"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	select {
	case <-b.Done():
	default:
		t.Fatal("bot not closed after Leave")
	}
	if err := b.SetMuted(ctx, "audio", true); err == nil {
		t.Fatal("SetMuted on a bot that publishes nothing succeeded")
	}
}
