package sfu

import (
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

// fakeChannel is a data channel whose SCTP buffer the test controls.
type fakeChannel struct {
	mu       sync.Mutex
	buffered uint64
	sent     [][]byte
	state    webrtc.DataChannelState
	closed   bool
	onSend   chan struct{}
}

func newFakeChannel() *fakeChannel {
	return &fakeChannel{state: webrtc.DataChannelStateOpen, onSend: make(chan struct{}, 1024)}
}

func (f *fakeChannel) Send(b []byte) error {
	f.mu.Lock()
	f.sent = append(f.sent, b)
	f.buffered += uint64(len(b))
	f.mu.Unlock()
	f.onSend <- struct{}{}
	return nil
}

func (f *fakeChannel) BufferedAmount() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buffered
}

func (f *fakeChannel) ReadyState() webrtc.DataChannelState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

func (f *fakeChannel) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.state = webrtc.DataChannelStateClosed
	return nil
}

// drain empties the fake SCTP buffer, as acknowledgements would.
func (f *fakeChannel) drain() {
	f.mu.Lock()
	f.buffered = 0
	f.mu.Unlock()
}

func (f *fakeChannel) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

func newTestLink(t *testing.T, maxQueued int) (*dataLink, *fakeChannel, *fakeChannel) {
	t.Helper()
	rel, lossy := newFakeChannel(), newFakeChannel()
	l := newDataLink(rel, lossy, maxQueued, time.Second, &Counters{}, slog.New(slog.DiscardHandler))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.run()
	}()
	t.Cleanup(func() {
		l.close()
		wg.Wait()
	})
	return l, rel, lossy
}

func waitSends(t *testing.T, f *fakeChannel, n int) {
	t.Helper()
	timer := time.NewTimer(2 * time.Second)
	defer timer.Stop()
	for f.count() < n {
		select {
		case <-f.onSend:
		case <-timer.C:
			t.Fatalf("sent %d messages, want %d", f.count(), n)
		}
	}
}

func TestDataLinkQueuesUntilOpen(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the link closes
	l, rel, _ := newTestLink(t, 1<<20)
	for range 3 {
		if err := l.enqueue("a", []byte("m"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if rel.count() != 0 {
		t.Fatalf("sent %d before the channel opened", rel.count())
	}
	l.opened()
	waitSends(t, rel, 3)
}

func TestDataLinkKeepsSCTPBufferUnderHighWater(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the link closes
	l, rel, _ := newTestLink(t, 64<<20)
	l.opened()
	chunk := make([]byte, 64<<10)
	for range 40 { // 2.5 MiB
		if err := l.enqueue("a", chunk, 0); err != nil {
			t.Fatal(err)
		}
	}
	waitSends(t, rel, highWater/len(chunk))
	if got := rel.BufferedAmount(); got > highWater+uint64(len(chunk)) {
		t.Fatalf("SCTP holds %d bytes, high water is %d", got, highWater)
	}
	sent := rel.count()
	rel.drain()
	l.bufferedLow()
	waitSends(t, rel, sent+1)
}

func TestDataLinkSlowReceiver(t *testing.T) {
	cases := []struct {
		name string
		wait time.Duration
	}{
		{"broadcast does not wait", 0},
		{"targeted waits, then gives up", 50 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Cleanup(func() { goleak.VerifyNone(t) }) // after the link closes
			l, rel, lossy := newTestLink(t, 100)       // never opened: nothing drains
			if err := l.enqueue("a", make([]byte, 80), c.wait); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err := l.enqueue("a", make([]byte, 80), c.wait)
			if !errors.Is(err, ErrReceiverSlow) {
				t.Fatalf("full queue: %v, want ErrReceiverSlow", err)
			}
			if waited := time.Since(start); waited < c.wait {
				t.Errorf("gave up after %v, want at least %v", waited, c.wait)
			}
			if !rel.closed {
				t.Error("slow receiver's reliable channel still open")
			}
			if err := l.enqueue("a", []byte("x"), 0); !errors.Is(err, ErrReceiverSlow) {
				t.Errorf("after slow: %v", err)
			}
			if !l.sendLossy([]byte("pos")) || lossy.count() != 1 {
				t.Error("lossy channel should keep working for a slow reliable receiver")
			}
		})
	}
}

func TestDataLinkTargetedSenderIsPacedNotDropped(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the link closes
	l, rel, _ := newTestLink(t, 100)
	if err := l.enqueue("a", make([]byte, 80), time.Second); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.enqueue("a", make([]byte, 80), time.Second) }()
	l.opened() // the receiver drains: the waiting sender gets space
	if err := <-done; err != nil {
		t.Fatalf("paced sender: %v", err)
	}
	waitSends(t, rel, 2)
}

func TestDataLinkLossyDropsOverBudget(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the link closes
	l, _, lossy := newTestLink(t, 100)
	lossy.mu.Lock()
	lossy.buffered = lossyBuffered
	lossy.mu.Unlock()
	if l.sendLossy([]byte("late")) {
		t.Fatal("lossy message sent over the buffer budget")
	}
	lossy.drain()
	if !l.sendLossy([]byte("fresh")) {
		t.Fatal("lossy message dropped with an empty buffer")
	}
	if got := l.stats.DataDropped.Load(); got != 1 {
		t.Errorf("dropped %d, want 1", got)
	}
}

func TestDataLinkErrorNeverMarksSenderSlow(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the link closes
	l, rel, _ := newTestLink(t, 100)
	if err := l.enqueue("a", make([]byte, 100), 0); err != nil {
		t.Fatal(err)
	}
	l.sendError(1, DataCodeTooLarge, "x")
	if rel.closed {
		t.Fatal("an error to a flooding sender closed its channel")
	}
}

func TestDataConfigSCTPLimit(t *testing.T) {
	for _, max := range []int{1024, 64 << 10, 1 << 20} {
		c := DataConfig{MaxMessageSize: max}.withDefaults()
		if got := int(c.sctpMaxMessage()); got <= max+17000 {
			t.Errorf("max %d: SCTP limit %d leaves no room to refuse oversized messages", max, got)
		}
	}
}

// Senders take turns: a message of b waits behind one message of a's
// long run, not behind all of it, and each sender's order holds.
func TestDataLinkSendersTakeTurns(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the link closes
	l, rel, _ := newTestLink(t, 1<<20)
	for _, m := range []struct{ from, msg string }{
		{"a", "a1"}, {"a", "a2"}, {"a", "a3"}, {"a", "a4"}, {"b", "b1"}, {"b", "b2"}, {"", "err"},
	} {
		if err := l.enqueue(m.from, []byte(m.msg), 0); err != nil {
			t.Fatal(err)
		}
	}
	l.opened()
	waitSends(t, rel, 7)
	rel.mu.Lock()
	defer rel.mu.Unlock()
	var got []string
	for _, b := range rel.sent {
		got = append(got, string(b))
	}
	want := []string{"a1", "b1", "err", "a2", "b2", "a3", "a4"}
	if !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
}
