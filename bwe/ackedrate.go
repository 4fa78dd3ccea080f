package bwe

import "time"

// rateSlots is how many feedback reports a rateWindow remembers; receivers
// report every 50-100 ms, so 64 covers several windows.
const rateSlots = 64

type rateSample struct {
	at       time.Time
	bytes    int
	received int
	lost     int
}

// rateWindow measures, over a sliding window ending now, the acknowledged
// bitrate (bytes the receiver reported as received, by the time their
// feedback arrived) and the loss fraction. It is the "acknowledged bitrate"
// of libwebrtc's AcknowledgedBitrateEstimator, simplified to a box window.
type rateWindow struct {
	window  time.Duration
	samples [rateSlots]rateSample
	head    int // next slot to write
	n       int
}

func newRateWindow(w time.Duration) rateWindow { return rateWindow{window: w} }

// add records one feedback report.
func (r *rateWindow) add(at time.Time, bytes, received, lost int) {
	r.samples[r.head] = rateSample{at: at, bytes: bytes, received: received, lost: lost}
	r.head = (r.head + 1) % rateSlots
	if r.n < rateSlots {
		r.n++
	}
}

// rate returns the acknowledged bitrate in bit/s and the loss fraction over
// the window ending at now; ok is false without any report in the window.
// Until a full window has passed since the first report, the rate is taken
// over the time actually covered, so a new connection is not underrated.
func (r *rateWindow) rate(now time.Time) (bps int, loss float64, ok bool) {
	bytes, received, lost := 0, 0, 0
	oldest := now
	for i := range r.n {
		s := &r.samples[(r.head-1-i+rateSlots)%rateSlots]
		if now.Sub(s.at) > r.window {
			break
		}
		bytes += s.bytes
		received += s.received
		lost += s.lost
		oldest = s.at
	}
	if received+lost == 0 {
		return 0, 0, false
	}
	span := r.window
	if r.n > 0 {
		if first := r.samples[(r.head-r.n+rateSlots)%rateSlots].at; now.Sub(first) < r.window {
			span = max(now.Sub(first), now.Sub(oldest), 100*time.Millisecond)
		}
	}
	return int(float64(bytes) * 8 / span.Seconds()), float64(lost) / float64(received+lost), true
}

// arrivalSlots bounds the packets an arrivalRate remembers: 250 ms at
// about 10 Mbit/s of full-size packets.
const arrivalSlots = 256

// arrivalRate measures the rate at which packets reached the receiver, on
// the receiver's clock (transport-cc arrival times), over the newest span
// of arrivals. Unlike a rate over feedback times it is not stretched or
// squeezed by the path: behind a bottleneck whose queue is still full of
// what was sent before, it already reads the bottleneck's rate. It also
// gives the rate at which the same packets were sent, which says whether
// the path held them back (saturated) or delivered what it was offered.
type arrivalRate struct {
	span    time.Duration
	arrival [arrivalSlots]time.Duration
	sentAt  [arrivalSlots]time.Time
	bytes   [arrivalSlots]int
	head, n int
	newest  time.Duration
}

func newArrivalRate(span time.Duration) arrivalRate { return arrivalRate{span: span} }

// add records one received packet.
func (r *arrivalRate) add(arrival time.Duration, bytes int, sentAt time.Time) {
	r.arrival[r.head], r.bytes[r.head], r.sentAt[r.head] = arrival, bytes, sentAt
	r.head = (r.head + 1) % arrivalSlots
	r.n = min(r.n+1, arrivalSlots)
	if r.n == 1 || arrival > r.newest {
		r.newest = arrival
	}
}

// rate returns bit/s over the arrivals within span of the newest; ok is
// false when they cover less than a fifth of the span.
func (r *arrivalRate) rate() (bps int, ok bool) {
	bps, _, ok = r.rates()
	return bps, ok
}

// rates returns the receive rate (as rate) and the rate at which the same
// packets were sent; sent is 0 when their send times span nothing.
func (r *arrivalRate) rates() (recv, sent int, ok bool) {
	first, bytes, firstBytes := r.newest, 0, 0
	var sFirst, sLast time.Time
	sFirstBytes := 0
	for i := range r.n {
		k := (r.head - 1 - i + arrivalSlots) % arrivalSlots
		a := r.arrival[k]
		if r.newest-a > r.span {
			continue
		}
		bytes += r.bytes[k]
		if a <= first {
			first, firstBytes = a, r.bytes[k]
		}
		if t := r.sentAt[k]; sFirst.IsZero() || t.Before(sFirst) {
			sFirst, sFirstBytes = t, r.bytes[k]
		}
		if t := r.sentAt[k]; t.After(sLast) {
			sLast = t
		}
	}
	d := r.newest - first
	if d < r.span/5 {
		return 0, 0, false
	}
	// The first arrival opens the interval; its bytes came before it.
	recv = int(float64(bytes-firstBytes) * 8 / d.Seconds())
	if sd := sLast.Sub(sFirst); sd > 0 {
		sent = int(float64(bytes-sFirstBytes) * 8 / sd.Seconds())
	}
	return recv, sent, true
}
