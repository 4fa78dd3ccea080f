package signaling

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A long-poll client joins and talks to a WebSocket client in the same
// room: the transports share one session logic.
func TestLongPollJoinAndEvents(t *testing.T) {
	h := newHarness(t, nil)
	lp := h.lpOpen(t, nil)
	j := lp.join(h.token(t, "lp", "alice", AllGrants()))
	if j.SessionID == "" {
		t.Fatalf("joined without sessionId: %+v", j)
	}
	if r := lp.request(&Message{Type: TypePing}); r.Type != TypePong {
		t.Fatalf("ping answered %+v", r)
	}
	ws := h.connect(t)
	ws.join(h.token(t, "lp", "bob", AllGrants()))
	m := lp.await("participantJoined", isType(TypeParticipantJoined))
	if m.Participant == nil || m.Participant.Identity != "bob" {
		t.Fatalf("participantJoined %+v", m)
	}
	if r := lp.request(&Message{Type: TypeMute, TrackSID: "TR_none", Muted: new(true)}); r.Type != TypeError || r.Code != CodeNotFound {
		t.Fatalf("mute of an unknown track answered %+v", r)
	}
}

// Replies lost after the server handled the request (every third one, POST
// and GET alike) lose no message and repeat none: each ping is answered
// exactly once, every event arrives once and in order.
func TestLongPollLostRepliesLoseNothing(t *testing.T) {
	h := newHarness(t, nil)
	drop := &dropRoundTripper{next: http.DefaultTransport.(*http.Transport).Clone(), every: 3}
	lp := h.lpOpen(t, &http.Client{Transport: drop, Timeout: 10 * time.Second})
	lp.wait = 1
	lp.join(h.token(t, "drops", "alice", AllGrants()))
	const pings, others = 40, 5
	for i := range others {
		c := h.connect(t)
		c.join(h.token(t, "drops", fmt.Sprintf("o%d", i), AllGrants()))
	}
	for i := range pings {
		lp.send(&Message{Type: TypePing, ID: fmt.Sprintf("p%d", i)})
	}
	var pongs []string
	joined := 0
	lp.await("last pong", func(m *Message) bool {
		switch m.Type {
		case TypePong:
			pongs = append(pongs, m.ID)
		case TypeParticipantJoined:
			joined++
		}
		return m.ID == fmt.Sprintf("p%d", pings-1)
	})
	for i, id := range pongs {
		if want := fmt.Sprintf("p%d", i); id != want {
			t.Fatalf("pong %d answers %s, want %s (all: %v)", i, id, want, pongs)
		}
	}
	if len(pongs) != pings || joined != others {
		t.Errorf("got %d pongs and %d participantJoined, want %d and %d", len(pongs), joined, pings, others)
	}
	for seq, n := range lp.seen {
		if n != 1 {
			t.Errorf("server message %d delivered %d times", seq, n)
		}
	}
	if drop.dropped < 10 {
		t.Errorf("only %d replies dropped; the test proves little", drop.dropped)
	}
	t.Logf("%d requests, %d replies dropped, %d server messages", drop.n, drop.dropped, lp.ack)
}

// Bad requests get an HTTP status and the protocol's error body.
func TestLongPollErrors(t *testing.T) {
	h := newHarness(t, nil) // MaxMessageSize 1024: bodies above 16 KiB are refused
	lp := h.lpOpen(t, nil)
	big := fmt.Sprintf(`{"messages":[{"seq":1,"message":{"type":"ping","id":%q}}]}`, strings.Repeat("x", 20<<10))
	var many strings.Builder
	many.WriteString(`{"messages":[`)
	for i := range lpInQueue + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `{"seq":%d,"message":{}}`, i+1)
	}
	many.WriteString("]}")
	s := "session=" + lp.session
	tests := []struct {
		name, method, query, body string
		status                    int
		code                      string
	}{
		{"poll without session", http.MethodGet, "ack=0", "", 400, CodeBadRequest},
		{"send without session is an open, bad body", http.MethodPost, "", "[]", 400, CodeBadJSON},
		{"poll of an unknown session", http.MethodGet, "session=nope", "", 404, CodeNotFound},
		{"send to an unknown session", http.MethodPost, "session=nope", `{"messages":[]}`, 404, CodeNotFound},
		{"end of an unknown session", http.MethodDelete, "session=nope", "", 404, CodeNotFound},
		{"oversized body", http.MethodPost, s, big, 413, CodeTooLarge},
		{"too many messages", http.MethodPost, s, many.String(), 413, CodeTooLarge},
		{"not JSON", http.MethodPost, s, "{nope", 400, CodeBadJSON},
		{"seq zero", http.MethodPost, s, `{"messages":[{"seq":0,"message":{}}]}`, 400, CodeBadRequest},
		{"seqs not consecutive", http.MethodPost, s, `{"messages":[{"seq":1,"message":{}},{"seq":3,"message":{}}]}`, 400, CodeBadRequest},
		{"seq gap", http.MethodPost, s, `{"messages":[{"seq":5,"message":{}}]}`, 400, CodeBadRequest},
		{"message missing", http.MethodPost, s, `{"messages":[{"seq":1}]}`, 400, CodeBadRequest},
		{"ack beyond the last message", http.MethodGet, s + "&ack=99&wait=0", "", 400, CodeBadRequest},
		{"bad ack", http.MethodGet, s + "&ack=-1", "", 400, CodeBadRequest},
		{"wait too long", http.MethodGet, s + "&wait=99", "", 400, CodeBadRequest},
		{"wrong method", http.MethodPut, s, "", 405, CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := lp.do(tc.method, tc.query, []byte(tc.body))
			var e lpErrorBody
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if status != tc.status || e.Type != TypeError || e.Code != tc.code || e.Message == "" {
				t.Errorf("got %d %+v, want %d %s", status, e, tc.status, tc.code)
			}
		})
	}
	// The session survived all of that.
	if r := lp.request(&Message{Type: TypePing}); r.Type != TypePong {
		t.Fatalf("ping after errors answered %+v", r)
	}
}

// The inbound queue is bounded: a batch beyond it is taken up to the bound
// and refused (429 rate_limited with the ack) for the rest.
func TestLongPollQueueBounds(t *testing.T) {
	lt := newLPTransport("x", "test", time.Second)
	msgs := make([]lpEnvelope, lpInQueue+5)
	for i := range msgs {
		msgs[i] = lpEnvelope{Seq: uint64(i + 1), Message: []byte(`{}`)}
	}
	ack, err := lt.accept(msgs)
	if ack != lpInQueue || statusOf(err) != http.StatusTooManyRequests || toError(err).Code != CodeRateLimited {
		t.Errorf("accept beyond the queue: ack %d, %v", ack, err)
	}
	for i := range lpMaxUnacked {
		if err := lt.write([]byte(fmt.Sprint(i))); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := lt.write([]byte("one more")); err != errTooSlow {
		t.Errorf("write beyond the unacked bound: %v, want errTooSlow", err)
	}
	msgsOut, closed, err := lt.poll(context.Background(), 10, 0)
	if err != nil || closed || len(msgsOut) != lpMaxUnacked-10 || msgsOut[0].Seq != 11 {
		t.Errorf("poll after ack 10: %d messages from %d, closed %v, %v", len(msgsOut), msgsOut[0].Seq, closed, err)
	}
	lt.close()
	if _, err := lt.accept(msgs[:1]); statusOf(err) != http.StatusGone {
		t.Errorf("accept after close: %v", err)
	}
}

// A participant that never polls does not hold up the room: others join
// and talk while its queue fills, and it is dropped for silence.
func TestLongPollStalledPollerDoesNotBlockRoom(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.PingInterval = 50 * time.Millisecond
		c.PongTimeout = 400 * time.Millisecond
	})
	lp := h.lpOpen(t, nil)
	lp.join(h.token(t, "stall", "sleepy", AllGrants()))
	sleepy := lp.ack // nothing polled since the join
	start := time.Now()
	var first *client
	for i := range 10 {
		c := h.connect(t)
		c.join(h.token(t, "stall", fmt.Sprintf("w%d", i), AllGrants()))
		c.ping()
		if first == nil {
			first = c
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("10 joins beside a stalled poller took %v", d)
	}
	// Silent for PongTimeout with the resume window 0: it leaves.
	first.await("participantLeft of the silent poller", isType(TypeParticipantLeft))
	if got := h.participants("stall"); len(got) != 10 || lp.ack != sleepy {
		t.Errorf("room holds %d participants, want 10", len(got))
	}
}

// DELETE ends the session like a normal close: the participant leaves at
// once, and the session id is no longer good.
func TestLongPollDeleteLeaves(t *testing.T) {
	h := resumeHarness(t, 5*time.Second)
	lp := h.lpOpen(t, nil)
	lp.join(h.token(t, "del", "alice", AllGrants()))
	ws := h.connect(t)
	ws.join(h.token(t, "del", "bob", AllGrants()))
	if status, body := lp.do(http.MethodDelete, "session="+lp.session, nil); status != http.StatusNoContent {
		t.Fatalf("DELETE answered %d %s", status, body)
	}
	ws.await("participantLeft", isType(TypeParticipantLeft))
	lp.expectClosed()
	status, _ := lp.do(http.MethodPost, "session="+lp.session, []byte(`{"messages":[]}`))
	if status != http.StatusNotFound && status != http.StatusGone {
		t.Errorf("send after DELETE answered %d, want 404 or 410", status)
	}
}

// A session moves between transports without leaving the room: WebSocket,
// then long-poll, then WebSocket again, each a join with resume.
func TestResumeAcrossTransports(t *testing.T) {
	h := resumeHarness(t, 5*time.Second)
	a := h.connect(t)
	tok := h.token(t, "move", "alice", AllGrants())
	ja := a.join(tok)
	b := h.connect(t)
	b.join(h.token(t, "move", "bob", AllGrants()))
	a.drop()

	lp := h.lpOpen(t, nil)
	r := lp.request(&Message{Type: TypeJoin, Token: tok, Resume: ja.SessionID})
	if r.Type != TypeJoined || !r.Resumed || r.SessionID != ja.SessionID {
		t.Fatalf("resume over long-poll answered %+v", r)
	}
	// A WebSocket resume supersedes the long-poll link at once.
	a2 := h.connect(t)
	r = a2.request(&Message{Type: TypeJoin, Token: tok, Resume: ja.SessionID})
	if r.Type != TypeJoined || !r.Resumed {
		t.Fatalf("resume over WebSocket answered %+v", r)
	}
	lp.expectClosed()
	b.noEvent(TypeParticipantLeft)
	if got := h.participants("move"); len(got) != 2 {
		t.Errorf("room holds %v", got)
	}
}

func FuzzParseSendBody(f *testing.F) {
	for _, s := range []string{
		`{"messages":[{"seq":1,"message":{"type":"ping"}}]}`,
		`{"messages":[{"seq":1,"message":{}},{"seq":2,"message":{"type":"join","token":"x"}}]}`,
		`{"messages":[]}`, `{}`, `[]`, `null`, ``, `{"messages":[{"seq":18446744073709551615,"message":1}]}`,
		`{"messages":[{"seq":1,"message":{}},{"seq":1,"message":{}}]}`, `{"messages":{"seq":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseSendBody(data, 8)
		if err != nil {
			if toError(err).Code == CodeInternal {
				t.Fatalf("internal error for peer input: %v", err)
			}
			return
		}
		if len(b.Messages) > 8 {
			t.Fatalf("%d messages accepted", len(b.Messages))
		}
		for i, e := range b.Messages {
			if e.Seq == 0 || len(e.Message) == 0 || (i > 0 && e.Seq != b.Messages[i-1].Seq+1) {
				t.Fatalf("accepted bad envelope %d: %+v", i, e)
			}
		}
		// What was accepted survives a round trip.
		out, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := parseSendBody(bytes.TrimSpace(out), 8); err != nil {
			t.Fatalf("re-encoded body refused: %v", err)
		}
	})
}
