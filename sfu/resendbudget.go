package sfu

import (
	"sync"
	"time"
)

// resendBurst is how much unspent retransmission budget may pile up: a
// NACK for a whole lost frame can be answered at once, but a long quiet
// spell does not buy a flood.
const resendBurst = 100 * time.Millisecond

// budgetSource is what a resendBudget reads its rate from: the subscribe
// connection's estimator, whose GetTargetBitrate is what the estimate
// leaves beside the allocated media (bwe.Estimator).
type budgetSource interface {
	GetTargetBitrate() int
}

// resendBudget is a token bucket that caps a subscriber's retransmissions
// at its bandwidth estimate's spare share. Without it a burst of loss on a
// link that just got slower is answered with retransmissions of the very
// layer that no longer fits, and the queue that dropped them stays full:
// the lower layer's keyframe then waits behind them (docs/bwe.md).
type resendBudget struct {
	src budgetSource

	mu     sync.Mutex
	tokens float64 // bytes
	last   time.Time
}

// allow takes n bytes from the bucket at now, or reports false.
func (b *resendBudget) allow(n int, now time.Time) bool {
	rate := float64(b.src.GetTargetBitrate()) / 8 // bytes per second
	b.mu.Lock()
	defer b.mu.Unlock()
	ceiling := max(rate*resendBurst.Seconds(), float64(maxCachedPacket))
	if !b.last.IsZero() {
		b.tokens = min(ceiling, b.tokens+rate*now.Sub(b.last).Seconds())
	} else {
		b.tokens = ceiling
	}
	b.last = now
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}
