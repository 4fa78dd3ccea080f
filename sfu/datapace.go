package sfu

import (
	"sync"
	"time"
)

const (
	// dataPaceBurst is how much unspent data budget may pile up: a quiet
	// spell does not buy a burst that fills the bottleneck's queue.
	dataPaceBurst = 100 * time.Millisecond
	// dataGrowWindow is the span over which the pacer measures what it
	// sent; dataGrowth is how far above that it may send in the next one
	// while the path shows no congestion (x2.4 a second), and
	// dataGrowSlack lets a transfer start from nothing.
	dataGrowWindow = 250 * time.Millisecond
	dataGrowth     = 1.25
	dataGrowSlack  = 64_000 // bit/s
)

// dataBudget is what a dataPacer reads its rate from and reports to: the
// subscribe connection's estimator (bwe.Estimator).
type dataBudget interface {
	// DataBudget is what the estimate leaves beside the media, and
	// whether congestion cut the estimate lately.
	DataBudget() (spare int, congested bool)
	// CountData records data bytes handed to SCTP, which the estimator
	// cannot see.
	CountData(bytes int)
}

// dataPacer paces one subscriber's reliable data so that media comes
// first. SCTP's congestion control is loss-based: unpaced, a file transfer
// fills the bottleneck's queue, the delay-based estimate yields to it, and
// the video dropped to its lowest layer for the whole transfer (scenario
// 7, docs/bwe.md).
//
// After a congestion cut the data keeps to what the estimate leaves beside
// the media. Otherwise it may grow past that, by a quarter of what it sent
// per 250 ms: beside a small tile or audio alone the estimate is held near
// what the media carries and says nothing of the link's room, and a
// transfer on a fast link would be held to it. The growth fills the
// link's queue in the end; the over-use that follows cuts the estimate
// (counting the data as carried, so not below what the media needs) and
// the data keeps to the spare again: a sawtooth on the data, the media
// steady.
//
// Lossy messages (game positions) are never held back; their bytes count
// against the budget.
type dataPacer struct {
	src dataBudget

	mu       sync.Mutex
	tokens   float64 // bytes; negative after a message larger than the bucket
	last     time.Time
	winStart time.Time
	winBytes int
	sentRate float64 // bytes/s over the last whole window
}

func newDataPacer(src dataBudget) *dataPacer { return &dataPacer{src: src} }

// wait reports how long until the next reliable message may go: zero when
// the budget is not in debt.
func (p *dataPacer) wait(now time.Time) time.Duration {
	spare, congested := p.src.DataBudget()
	p.mu.Lock()
	defer p.mu.Unlock()
	rate := p.rateLocked(spare, congested, now)
	p.refillLocked(rate, now)
	if p.tokens >= 0 {
		return 0
	}
	return max(time.Duration(-p.tokens/rate*float64(time.Second)), time.Millisecond)
}

// spent takes n bytes sent at now from the budget and reports them to the
// estimator.
func (p *dataPacer) spent(n int, now time.Time) {
	spare, congested := p.src.DataBudget()
	p.mu.Lock()
	p.refillLocked(p.rateLocked(spare, congested, now), now)
	p.tokens -= float64(n)
	p.winBytes += n
	p.mu.Unlock()
	p.src.CountData(n)
}

// rateLocked is the pace in bytes/s: the spare, or while uncongested up to
// dataGrowth x what was sent in the last window.
func (p *dataPacer) rateLocked(spare int, congested bool, now time.Time) float64 {
	if p.winStart.IsZero() {
		p.winStart = now
	} else if dt := now.Sub(p.winStart); dt >= dataGrowWindow {
		p.sentRate = float64(p.winBytes) / dt.Seconds()
		p.winStart, p.winBytes = now, 0
	}
	rate := float64(spare) / 8
	if !congested {
		rate = max(rate, dataGrowth*p.sentRate+dataGrowSlack/8)
	}
	return max(rate, dataGrowSlack/8)
}

func (p *dataPacer) refillLocked(rate float64, now time.Time) {
	ceiling := rate * dataPaceBurst.Seconds()
	if p.last.IsZero() {
		p.tokens = ceiling
	} else if dt := now.Sub(p.last).Seconds(); dt > 0 {
		p.tokens = min(ceiling, p.tokens+rate*dt)
	}
	p.last = now
}
