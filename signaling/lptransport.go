package signaling

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Long-poll limits per session.
const (
	// lpInQueue bounds client messages taken but not yet handled; a POST
	// beyond it gets rate_limited with the ack of what fitted.
	lpInQueue = 128
	// lpMaxUnacked bounds server messages the client has not acked; a
	// client this far behind is dropped, as a too slow WebSocket is.
	lpMaxUnacked = outQueue
)

// Errors of a long-poll link.
var (
	// ErrSeqGap reports a POST whose first new message is not the next
	// one the server expects.
	ErrSeqGap = errors.New("signaling: long-poll seq gap")
	// ErrQueueFull reports a POST while the session's inbound queue is full.
	ErrQueueFull = errors.New("signaling: long-poll queue full")
	// ErrBadAck reports an ack of a message the server never sent.
	ErrBadAck = errors.New("signaling: long-poll ack beyond the last message")
	// ErrLinkClosed reports a request to a session whose link ended.
	ErrLinkClosed = errors.New("signaling: long-poll session ended")
	errIdle       = errors.New("signaling: long-poll client stopped polling")
)

// lpTransport is the link of one long-poll session. POSTs put client
// messages into in, in seq order, once each; the session's writer appends
// server messages to out, where they stay, numbered, until a poll acks
// them. Nothing here waits for the client, so a stalled poller costs only
// its bounded queue and never holds up the room.
type lpTransport struct {
	id          string
	remote      string
	pongTimeout time.Duration
	in          chan []byte
	gone        chan struct{} // closed by close
	goneOnce    sync.Once
	onClose     func() // the server's cleanup, after close

	mu       sync.Mutex
	applied  uint64       // highest client seq put into in
	out      []lpEnvelope // unacked server messages, ascending seq
	next     uint64       // seq of the next server message
	wake     chan struct{}
	closed   bool
	why      ending
	polls    int       // polls being held
	gen      uint64    // the newest poll; older ones return at once
	lastSeen time.Time // end of the last request
}

func newLPTransport(id, remote string, pongTimeout time.Duration) *lpTransport {
	return &lpTransport{
		id: id, remote: remote, pongTimeout: pongTimeout,
		in:       make(chan []byte, lpInQueue),
		gone:     make(chan struct{}),
		next:     1,
		wake:     make(chan struct{}),
		lastSeen: time.Now(),
	}
}

// signalLocked wakes every waiting poll.
func (t *lpTransport) signalLocked() {
	close(t.wake)
	t.wake = make(chan struct{})
}

func (t *lpTransport) read(limit int) ([]byte, error) {
	select {
	case m := <-t.in:
		return checkSize(m, limit)
	default:
	}
	select {
	case m := <-t.in:
		return checkSize(m, limit)
	case <-t.gone:
		// Messages taken before the end still count (leave, then DELETE).
		select {
		case m := <-t.in:
			return checkSize(m, limit)
		default:
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		return nil, &linkEnded{why: t.why}
	}
}

func checkSize(m []byte, limit int) ([]byte, error) {
	if len(m) > limit {
		return nil, &oversizeError{size: int64(len(m))}
	}
	return m, nil
}

func (t *lpTransport) write(msg []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrLinkClosed
	}
	if len(t.out) >= lpMaxUnacked {
		return errTooSlow
	}
	t.out = append(t.out, lpEnvelope{Seq: t.next, Message: msg})
	t.next++
	t.signalLocked()
	return nil
}

// keepalive ends a session whose client neither polls nor posts: the
// long-poll counterpart of a WebSocket that stopped answering pings.
func (t *lpTransport) keepalive() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.polls == 0 && time.Since(t.lastSeen) > t.pongTimeout {
		return errIdle
	}
	return nil
}

// finish needs nothing: close follows, and polls report closed after the
// last messages.
func (t *lpTransport) finish() {}

func (t *lpTransport) close() {
	t.goneOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		t.signalLocked()
		t.mu.Unlock()
		close(t.gone)
		if t.onClose != nil {
			t.onClose()
		}
	})
}

// closeByClient ends the session as a normal WebSocket close does: the
// participant leaves at once.
func (t *lpTransport) closeByClient() {
	t.mu.Lock()
	if !t.closed {
		t.why = endClosed
	}
	t.mu.Unlock()
	t.close()
}

func (t *lpTransport) kind() string       { return "longpoll" }
func (t *lpTransport) remoteAddr() string { return t.remote }

// accept takes the messages of a POST in seq order, skipping those it
// already has, and returns the highest seq it holds.
func (t *lpTransport) accept(msgs []lpEnvelope) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return t.applied, ErrLinkClosed
	}
	t.lastSeen = time.Now()
	for _, e := range msgs {
		if e.Seq <= t.applied {
			continue // a retry of a request whose reply was lost
		}
		if e.Seq != t.applied+1 {
			return t.applied, ErrSeqGap
		}
		select {
		case t.in <- e.Message:
			t.applied++
		default:
			return t.applied, ErrQueueFull
		}
	}
	return t.applied, nil
}

// poll drops the messages up to ack and returns those after it, waiting up
// to wait for one. A newer poll of the same session ends this one at once
// (empty), so a client that lost a request can always poll again.
func (t *lpTransport) poll(ctx context.Context, ack uint64, wait time.Duration) ([]lpEnvelope, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastSeen = time.Now()
	if ack >= t.next {
		return nil, false, ErrBadAck
	}
	acked := 0
	for acked < len(t.out) && t.out[acked].Seq <= ack {
		acked++
	}
	t.out = slices.Delete(t.out, 0, acked)
	t.gen++
	gen := t.gen
	t.signalLocked() // an older poll gives way
	t.polls++
	defer func() {
		t.polls--
		t.lastSeen = time.Now()
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	expired := false
	for len(t.out) == 0 && !t.closed && gen == t.gen && !expired {
		wake := t.wake
		t.mu.Unlock()
		select {
		case <-wake:
		case <-timer.C:
			expired = true
		case <-ctx.Done():
			expired = true
		}
		t.mu.Lock()
	}
	return slices.Clone(t.out), t.closed, nil
}
