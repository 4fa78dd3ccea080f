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

// take takes n bytes at now and returns how long the sender is over its
// rate: zero when the bytes were there. The bytes are taken either way (the
// bucket goes negative), so a paced sender pays for what it sent. tell
// asks the caller to send a rate_limited error: at most one a second.
func (d *dataRate) take(n int, c DataConfig, now time.Time) (over time.Duration, tell bool) {
	if c.BytesPerSecond <= 0 {
		return 0, false
	}
	rate := float64(c.BytesPerSecond)
	burst := float64(max(c.BytesPerSecond, c.MaxMessageSize))
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last.IsZero() {
		d.tokens = burst
	} else if dt := now.Sub(d.last).Seconds(); dt > 0 {
		d.tokens = min(burst, d.tokens+dt*rate)
	}
	d.last = now
	d.tokens -= float64(n)
	if d.tokens >= 0 {
		return 0, false
	}
	over = time.Duration(-d.tokens / rate * float64(time.Second))
	if now.Sub(d.told) >= time.Second {
		d.told = now
		tell = true
	}
	return over, tell
}

// refund gives back bytes taken for a message that was then dropped.
func (d *dataRate) refund(n int) {
	d.mu.Lock()
	d.tokens += float64(n)
	d.mu.Unlock()
}

// limitData applies the participant's data rate to one message of n bytes.
// A reliable message waits until the sender is back within its rate: the
// wait runs on pion's read goroutine of the sender's channel, so SCTP's
// flow control slows the sender down and nothing is lost. A lossy message
// over the rate is dropped (false). Either way the sender hears
// rate_limited at most once a second.
func (r *Room) limitData(from *Participant, seq uint32, n int, lossy bool) bool {
	over, tell := from.dataRate.take(n, r.sfu.opts.data, time.Now())
	if over == 0 {
		return true
	}
	r.sfu.opts.stats.DataRateLimited.Add(1)
	if tell {
		r.refuseData(from, seq, DataCodeRateLimited, "data over the per-participant rate")
	}
	if lossy {
		from.dataRate.refund(n)
		return false
	}
	t := time.NewTimer(over)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-from.done:
		return false
	}
}
