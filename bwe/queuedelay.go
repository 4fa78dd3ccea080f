package bwe

import "time"

// queueWindow is the span of each of the two buckets the base one-way
// delay is the minimum of: the base is at least one and at most two
// windows old, so a route change is forgotten within 10 s.
const queueWindow = 5 * time.Second

// queueDelay estimates how long the newest packet waited in queues on the
// path: its one-way delay (arrival on the receiver's clock minus send time
// on ours, an offset that only differences make meaningful) over the
// smallest seen recently. After a sudden rate drop this is how long the
// bottleneck needs to drain what it holds; a keyframe sent into it sooner
// only joins the tail of that queue, where it is dropped when the queue is
// full (see Target.Hold).
type queueDelay struct {
	epoch     time.Time
	cur, prev time.Duration
	curStart  time.Time
	last      time.Duration
	lastSent  time.Time
	have      bool
}

// add records the arrival of a packet sent at sentAt; now is the time of
// the feedback that reported it.
func (q *queueDelay) add(arrival time.Duration, sentAt, now time.Time) {
	if q.epoch.IsZero() {
		q.epoch = sentAt
	}
	owd := arrival - sentAt.Sub(q.epoch)
	switch {
	case !q.have:
		q.cur, q.prev, q.curStart, q.have = owd, owd, now, true
	case now.Sub(q.curStart) >= queueWindow:
		q.prev, q.cur, q.curStart = q.cur, owd, now
	default:
		q.cur = min(q.cur, owd)
	}
	q.last, q.lastSent = owd, sentAt
}

// delay is the queueing delay of the newest packet reported.
func (q *queueDelay) delay() time.Duration {
	if !q.have {
		return 0
	}
	return max(q.last-min(q.cur, q.prev), 0)
}

// now extrapolates delay to a packet sent at now: the newest report is a
// queue's delay old, and while the path receives recv of the sent bit/s
// the queue grows by sent/recv - 1 seconds per second. Right after a
// sudden drop that report still shows the queue small (seen: 245 ms
// reported while the bottleneck held 800 ms).
func (q *queueDelay) now(now time.Time, recv, sent int) time.Duration {
	d := q.delay()
	if !q.have || recv <= 0 || sent <= recv {
		return d
	}
	grow := float64(now.Sub(q.lastSent)) * (float64(sent)/float64(recv) - 1)
	return d + time.Duration(grow)
}
