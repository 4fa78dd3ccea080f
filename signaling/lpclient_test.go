package signaling

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lpClient is a test long-poll client following docs/protocol.md: every
// request is retried until it succeeds, sends carry seqs, polls ack.
// It is synchronous: await polls until the wanted message comes.
type lpClient struct {
	t       *testing.T
	base    string // http://host/lp
	hc      *http.Client
	session string
	seq     uint64         // last client seq assigned
	unacked []lpEnvelope   // sent, not yet acked by the server
	ack     uint64         // last server seq received
	queue   []*Message     // received, not yet awaited
	seen    map[uint64]int // server seqs handed to the test, to count repeats
	nextID  int
	wait    int // poll hold in seconds
}

func (h *harness) lpBase() string { return "http" + strings.TrimPrefix(h.url, "ws") + "/lp" }

// lpOpen opens a long-poll session through hc (nil: a default client).
func (h *harness) lpOpen(t *testing.T, hc *http.Client) *lpClient {
	t.Helper()
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	c := &lpClient{t: t, base: h.lpBase(), hc: hc, seen: make(map[uint64]int), wait: 5}
	t.Cleanup(hc.CloseIdleConnections)
	status, body := c.do(http.MethodPost, "", nil)
	if status != http.StatusOK {
		t.Fatalf("open: %d %s", status, body)
	}
	var r lpSendReply
	if err := json.Unmarshal(body, &r); err != nil || r.Session == "" {
		t.Fatalf("open answered %s (%v)", body, err)
	}
	c.session = r.Session
	return c
}

// do runs one request; a transport error is returned as status 0.
func (c *lpClient) do(method, query string, body []byte) (int, []byte) {
	u := c.base
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, []byte(err.Error())
	}
	return resp.StatusCode, data
}

// send queues m and posts everything unacked until the server acks it.
func (c *lpClient) send(m *Message) {
	c.t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.seq++
	c.unacked = append(c.unacked, lpEnvelope{Seq: c.seq, Message: data})
	deadline := time.Now().Add(waitTimeout)
	for len(c.unacked) > 0 {
		body, _ := json.Marshal(&lpSendBody{Messages: c.unacked})
		status, reply := c.do(http.MethodPost, "session="+c.session, body)
		if status == 0 {
			if time.Now().After(deadline) {
				c.t.Fatalf("send: no success within %v: %s", waitTimeout, reply)
			}
			continue // lost on the way: the same batch again
		}
		if status != http.StatusOK {
			c.t.Fatalf("send answered %d %s", status, reply)
		}
		var r lpSendReply
		if err := json.Unmarshal(reply, &r); err != nil {
			c.t.Fatal(err)
		}
		for len(c.unacked) > 0 && c.unacked[0].Seq <= r.Ack {
			c.unacked = c.unacked[1:]
		}
	}
}

// pollOnce fetches what came after ack; it returns false on a lost request.
func (c *lpClient) pollOnce() (closed bool, ok bool) {
	status, body := c.do(http.MethodGet, fmt.Sprintf("session=%s&ack=%d&wait=%d", c.session, c.ack, c.wait), nil)
	if status == 0 {
		return false, false
	}
	if status != http.StatusOK {
		c.t.Fatalf("poll answered %d %s", status, body)
	}
	var r lpPollReply
	if err := json.Unmarshal(body, &r); err != nil {
		c.t.Fatalf("poll body %s: %v", body, err)
	}
	for _, e := range r.Messages {
		if e.Seq <= c.ack {
			continue // sent again because our ack was lost with a reply
		}
		if e.Seq != c.ack+1 {
			c.t.Fatalf("server seq jumped from %d to %d", c.ack, e.Seq)
		}
		c.ack = e.Seq
		c.seen[e.Seq]++
		var m Message
		if err := json.Unmarshal(e.Message, &m); err != nil {
			c.t.Fatalf("server message %s: %v", e.Message, err)
		}
		c.queue = append(c.queue, &m)
	}
	return r.Closed, true
}

// await polls until a message matching pred arrives; earlier ones are
// skipped (and returned by rest later only if not skipped).
func (c *lpClient) await(what string, pred func(*Message) bool) *Message {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		for i, m := range c.queue {
			if pred(m) {
				c.queue = c.queue[i+1:]
				return m
			}
		}
		c.queue = c.queue[:0]
		if time.Now().After(deadline) {
			c.t.Fatalf("no %s within %v", what, waitTimeout)
		}
		if closed, _ := c.pollOnce(); closed && len(c.queue) == 0 {
			c.t.Fatalf("session closed while waiting for %s", what)
		}
	}
}

func (c *lpClient) request(m *Message) *Message {
	c.t.Helper()
	c.nextID++
	m.ID = "lp-" + strconv.Itoa(c.nextID)
	c.send(m)
	return c.await("reply to "+m.ID, func(r *Message) bool { return r.ID == m.ID })
}

func (c *lpClient) join(token string) *Message {
	c.t.Helper()
	r := c.request(&Message{Type: TypeJoin, Token: token})
	if r.Type != TypeJoined {
		c.t.Fatalf("join answered %+v", r)
	}
	return r
}

// expectClosed polls until the server reports the session closed.
func (c *lpClient) expectClosed() {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		if closed, _ := c.pollOnce(); closed {
			return
		}
	}
	c.t.Fatalf("session still open after %v", waitTimeout)
}

// dropRoundTripper loses the reply of every nth request after the server
// handled it, the worst moment for a request to fail.
type dropRoundTripper struct {
	next    http.RoundTripper
	every   int
	n       int
	dropped int
}

func (d *dropRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	d.n++
	if d.n%d.every != 0 {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	d.dropped++
	return nil, fmt.Errorf("test: reply to %s %s dropped", r.Method, r.URL.RawQuery)
}
