package bot

import (
	"context"
	"sync"
	"sync/atomic"
)

// notifier wakes goroutines waiting for a condition on the bot's state. The
// packet path calls notify on every packet, so it does nothing unless
// someone waits.
type notifier struct {
	waiters atomic.Int32
	mu      sync.Mutex
	ch      chan struct{}
}

func newNotifier() *notifier { return &notifier{ch: make(chan struct{})} }

func (n *notifier) notify() {
	if n.waiters.Load() == 0 {
		return
	}
	n.mu.Lock()
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}

func (n *notifier) changed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

// waitFor blocks until cond holds, ctx ends or done closes. cond is
// evaluated after each notify; it must read state under that state's locks.
func (n *notifier) waitFor(ctx context.Context, done <-chan struct{}, cond func() bool) error {
	n.waiters.Add(1)
	defer n.waiters.Add(-1)
	for {
		ch := n.changed()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-done:
			if cond() {
				return nil
			}
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
