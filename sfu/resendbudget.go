package sfu

import (
	"sync"
	"time"
)

// resendBurst is how much unspent retransmission budget may pile up: a
// NACK for a whole lost frame can be answered at once, but a long quiet
// spell does not buy a flood.
const resendBurst = 100 * time.Millisecond

// budgetSource is what a resendBudget reads its rates from: the subscribe
// connection's estimator (bwe.Estimator), whose GetTargetBitrate is what
// the estimate leaves beside the allocated media and Estimate the whole.
type budgetSource interface {
	GetTargetBitrate() int
	Estimate() int
}

// resendBudget is a token bucket that caps a subscriber's retransmissions
// at its bandwidth estimate's spare share. Without it a burst of loss on a
// link that just got slower is answered with retransmissions of the very
// layer that no longer fits, and the queue that dropped them stays full:
// the lower layer's keyframe then waits behind them (docs/bwe.md).
//
// Keyframe packets are the exception: the receiver shows nothing until the
// keyframe is whole, so their retransmissions may use the whole estimate
// (the frames after it are what waits then), like libwebrtc's pacer, which
// sends retransmissions ahead of media.
type resendBudget struct {
	src budgetSource

	mu     sync.Mutex
	tokens float64 // bytes
	last   time.Time
}

// allow takes n bytes from the bucket at now, or reports false. Keyframe
// packets (key) may draw the bucket down to minus a burst of the whole
// estimate; what they borrow delays later retransmissions.
func (b *resendBudget) allow(n int, key bool, now time.Time) bool {
	rate := float64(b.src.GetTargetBitrate()) / 8 // bytes per second
	floor := 0.0
	if key {
		floor = -float64(b.src.Estimate()) / 8 * resendBurst.Seconds()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ceiling := max(rate*resendBurst.Seconds(), float64(maxCachedPacket))
	if !b.last.IsZero() {
		b.tokens = min(ceiling, b.tokens+rate*now.Sub(b.last).Seconds())
	} else {
		b.tokens = ceiling
	}
	b.last = now
	if b.tokens-float64(n) < floor {
		return false
	}
	b.tokens -= float64(n)
	return true
}
