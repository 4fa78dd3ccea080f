package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Long-poll client timing.
const (
	lpPollWait  = 20 * time.Second      // the server holds a poll this long
	lpGiveUp    = 10 * time.Second      // failing this long loses the link
	lpRetryBase = 50 * time.Millisecond // first pause after a failed request
	lpRetryMax  = 1 * time.Second       // longest pause
	lpBodyLimit = readLimit * 64        // a poll reply holds many messages
	lpRecvQueue = 256                   // messages received, not yet read
)

// ErrLinkLost reports a long-poll link the server no longer knows or that
// failed for lpGiveUp.
var ErrLinkLost = errors.New("bot: long-poll link lost")

// lpOptions configure the long-poll client.
type lpOptions struct {
	client *http.Client
}

// lpEnvelope is a message and its seq (docs/protocol.md, Long-poll).
type lpEnvelope struct {
	Seq     uint64          `json:"seq"`
	Message json.RawMessage `json:"message"`
}

// lpLink is the long-poll client: a sender posts every unacked message
// until the server acks it (the server drops repeats by seq), a poller
// holds a GET that acks what it has and delivers each server message once,
// in seq order. A request that fails is simply made again.
type lpLink struct {
	base    string // http(s)://host/lp
	session string
	hc      *http.Client
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	recv     chan []byte
	dead     chan struct{}
	deadOnce sync.Once
	deadErr  error

	mu      sync.Mutex
	seq     uint64
	unacked []lpEnvelope
	kick    chan struct{}
}

// longPollURL turns the WebSocket URL (ws://host/ws) into the long-poll
// endpoint next to it (http://host/lp).
func longPollURL(wsURL string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", fmt.Errorf("long-poll url: %w", err)
	}
	switch u.Scheme {
	case "ws", "http":
		u.Scheme = "http"
	case "wss", "https":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("%w: url scheme %q", ErrConfig, u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "/ws") + "/lp"
	u.RawQuery = ""
	return u.String(), nil
}

// dialLongPoll opens a session (POST without one) and starts the poller.
func dialLongPoll(ctx context.Context, wsURL string, o lpOptions) (*lpLink, error) {
	base, err := longPollURL(wsURL)
	if err != nil {
		return nil, err
	}
	hc := o.client
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base, http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("open long-poll: %w", err)
	}
	var opened struct {
		Session string `json:"session"`
	}
	if err := doJSON(hc, req, &opened); err != nil {
		return nil, fmt.Errorf("open long-poll %s: %w", base, err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	l := &lpLink{
		base: base, session: opened.Session, hc: hc, ctx: lctx, cancel: cancel,
		recv: make(chan []byte, lpRecvQueue), dead: make(chan struct{}), kick: make(chan struct{}, 1),
	}
	l.wg.Add(2)
	go func() { defer l.wg.Done(); l.sendLoop() }()
	go func() { defer l.wg.Done(); l.pollLoop() }()
	return l, nil
}

// httpStatusError is a long-poll request refused by the server.
type httpStatusError struct {
	status int
	body   string
}

func (e *httpStatusError) Error() string { return fmt.Sprintf("http %d: %s", e.status, e.body) }

// fatal tells whether the server no longer knows the session.
func (e *httpStatusError) fatal() bool {
	return e.status == http.StatusNotFound || e.status == http.StatusGone || e.status == http.StatusBadRequest
}

func doJSON(hc *http.Client, req *http.Request, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, lpBodyLimit))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &httpStatusError{status: resp.StatusCode, body: strings.TrimSpace(string(data))}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return nil
}

func (l *lpLink) fail(err error) {
	l.deadOnce.Do(func() {
		l.deadErr = err
		close(l.dead)
	})
}

func (l *lpLink) endpoint(query string) string {
	return l.base + "?session=" + url.QueryEscape(l.session) + query
}

func (l *lpLink) send(data []byte, _ time.Time) error {
	select {
	case <-l.dead:
		return fmt.Errorf("send: %w", l.deadErr)
	default:
	}
	l.mu.Lock()
	l.seq++
	l.unacked = append(l.unacked, lpEnvelope{Seq: l.seq, Message: append([]byte(nil), data...)})
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return nil
}

// sendLoop posts the unacked messages, again and again until acked.
func (l *lpLink) sendLoop() {
	r := retry{}
	for {
		l.mu.Lock()
		batch := append([]lpEnvelope(nil), l.unacked...)
		l.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-l.ctx.Done():
				return
			case <-l.kick:
				continue
			}
		}
		body, _ := json.Marshal(map[string]any{"messages": batch})
		req, _ := http.NewRequestWithContext(l.ctx, http.MethodPost, l.endpoint(""), bytes.NewReader(body))
		var reply struct {
			Ack uint64 `json:"ack"`
		}
		if err := doJSON(l.hc, req, &reply); err != nil {
			if !r.again(l, err) {
				return
			}
			continue
		}
		r.ok()
		l.mu.Lock()
		for len(l.unacked) > 0 && l.unacked[0].Seq <= reply.Ack {
			l.unacked = l.unacked[1:]
		}
		l.mu.Unlock()
	}
}

// pollLoop holds a GET at a time, acking what it delivered.
func (l *lpLink) pollLoop() {
	var ack uint64
	r := retry{}
	for {
		ctx, cancel := context.WithTimeout(l.ctx, lpPollWait+10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
			l.endpoint("&ack="+strconv.FormatUint(ack, 10)+"&wait="+strconv.Itoa(int(lpPollWait/time.Second))), http.NoBody)
		var reply struct {
			Messages []lpEnvelope `json:"messages"`
			Closed   bool         `json:"closed"`
		}
		err := doJSON(l.hc, req, &reply)
		cancel()
		if err != nil {
			if !r.again(l, err) {
				return
			}
			continue
		}
		r.ok()
		for _, e := range reply.Messages {
			if e.Seq <= ack {
				continue // our ack was lost with the last reply: a repeat
			}
			if e.Seq != ack+1 {
				l.fail(fmt.Errorf("%w: server seq jumped from %d to %d", ErrProtocol, ack, e.Seq))
				return
			}
			select {
			case l.recv <- e.Message:
				ack = e.Seq
			case <-l.ctx.Done():
				return
			}
		}
		if reply.Closed {
			l.fail(fmt.Errorf("%w: closed by the server", io.EOF))
			return
		}
	}
}

// retry paces failed requests and gives the link up after lpGiveUp.
type retry struct {
	since time.Time
	pause time.Duration
}

func (r *retry) ok() { *r = retry{} }

// again waits before the next attempt; false ends the loop.
func (r *retry) again(l *lpLink, err error) bool {
	if l.ctx.Err() != nil {
		return false
	}
	var st *httpStatusError
	if errors.As(err, &st) && st.fatal() {
		l.fail(fmt.Errorf("%w: %w", ErrLinkLost, err))
		return false
	}
	if r.since.IsZero() {
		r.since, r.pause = time.Now(), lpRetryBase
	}
	if time.Since(r.since) > lpGiveUp {
		l.fail(fmt.Errorf("%w: failing for %v: %w", ErrLinkLost, lpGiveUp, err))
		return false
	}
	t := time.NewTimer(r.pause)
	defer t.Stop()
	r.pause = min(2*r.pause, lpRetryMax)
	select {
	case <-l.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (l *lpLink) receive(deadline time.Time) ([]byte, error) {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case m := <-l.recv:
		return m, nil
	default:
	}
	select {
	case m := <-l.recv:
		return m, nil
	case <-l.dead:
		select {
		case m := <-l.recv:
			return m, nil
		default:
		}
		return nil, fmt.Errorf("read: %w", l.deadErr)
	case <-timeout:
		return nil, fmt.Errorf("read: %w", context.DeadlineExceeded)
	}
}

func (l *lpLink) drop() {
	l.fail(fmt.Errorf("%w: dropped", ErrLinkLost))
	l.cancel()
	l.wg.Wait()
	l.hc.CloseIdleConnections()
}

// close ends the session with DELETE (the participant leaves at once).
func (l *lpLink) close() error {
	l.fail(ErrClosed)
	l.cancel()
	l.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, l.endpoint(""), http.NoBody)
	resp, err := l.hc.Do(req)
	defer l.hc.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("end long-poll session: %w", err)
	}
	_ = resp.Body.Close()
	return nil
}
