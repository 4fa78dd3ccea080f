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
