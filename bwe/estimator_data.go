package bwe

import "time"

// Data channels (SCTP) share the path to the subscriber but carry no
// transport-wide sequence numbers: GCC never sees them. The sender of the
// data (sfu's data pacer) reports the bytes it hands to SCTP, so that an
// over-use cut counts them as carried, and it paces them by DataBudget.

// dataWindow is the span of the data rate measurement, as ackedWindow.
const dataWindow = ackedWindow

// CountData records bytes of data-channel messages handed to SCTP on this
// connection.
func (e *Estimator) CountData(bytes int) {
	e.mu.Lock()
	e.dataBytes += bytes
	e.mu.Unlock()
}

// dataRate folds the bytes counted since the last feedback into the window
// and returns the data rate over it, bit/s. e.mu is held.
func (e *Estimator) dataRate(now time.Time) int {
	e.data.add(now, e.dataBytes, 1, 0)
	e.dataBytes = 0
	bps, _, _ := e.data.rate(now)
	return bps
}

// DataBudget is what the subscriber's data may use: spare, what the
// estimate leaves beside the allocated media (at least retransmitShare of
// it), and congested, a congestion cut within congestionMemory (recentCut). While
// congested the data keeps to spare; otherwise its pacer may grow past it
// with what it delivers, because beside a small allocation the estimate is
// held near what the media carries and says nothing of the link's room.
func (e *Estimator) DataBudget() (spare int, congested bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	spare = max(e.est-e.allocated, int(retransmitShare*float64(e.est)))
	congested = recentCut(e.decreasedAt, e.now())
	return spare, congested
}
