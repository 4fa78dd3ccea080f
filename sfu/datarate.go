package sfu

import (
	"sync"
	"time"
)

// dataRate is one participant's token bucket of data bytes. Both of its
// channels' read goroutines take from it, hence the mutex.
type dataRate struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
	told   time.Time // last rate_limited error sent
}

// allow takes n bytes if the participant's rate allows them. tell asks the
// caller to send a rate_limited error: at most one a second, so a sender
// flooding its channel does not get a flood of errors back.
func (d *dataRate) allow(n int, c DataConfig, now time.Time) (ok, tell bool) {
	if c.BytesPerSecond <= 0 {
		return true, false
	}
	burst := float64(max(c.BytesPerSecond, c.MaxMessageSize))
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last.IsZero() {
		d.tokens = burst
	} else if dt := now.Sub(d.last).Seconds(); dt > 0 {
		d.tokens = min(burst, d.tokens+dt*float64(c.BytesPerSecond))
	}
	d.last = now
	if d.tokens >= float64(n) {
		d.tokens -= float64(n)
		return true, false
	}
	if now.Sub(d.told) >= time.Second {
		d.told = now
		return false, true
	}
	return false, false
}
