package bot

import "time"

// seqUnwrapper extends 16-bit RTP sequence numbers to int64 so that loss and
// ordering survive the wrap every 65536 packets. A packet more than half the
// space behind the highest seen is taken as old, not as a wrap.
type seqUnwrapper struct {
	started bool
	highest int64
}

func (u *seqUnwrapper) unwrap(seq uint16) int64 {
	if !u.started {
		u.started = true
		u.highest = int64(seq)
		return u.highest
	}
	ext := u.highest + int64(int16(seq-uint16(u.highest)))
	if ext > u.highest {
		u.highest = ext
	}
	return ext
}

// rtpStats counts one received RTP stream the way an RFC 3550 receiver
// report does: loss is expected minus received, jitter is the smoothed
// interarrival jitter in RTP clock units.
type rtpStats struct {
	clockRate uint32
	seq       seqUnwrapper
	base      int64
	received  uint64
	bytes     uint64

	jitterStarted bool
	epoch         time.Time
	lastTransit   int64
	jitter        float64
}

func newRTPStats(clockRate uint32) *rtpStats { return &rtpStats{clockRate: clockRate} }

// update records one packet of size bytes (payload plus header) that arrived
// at arrival. It returns the packet's extended sequence number.
func (s *rtpStats) update(seq uint16, ts uint32, size int, arrival time.Time) int64 {
	ext := s.seq.unwrap(seq)
	if s.received == 0 {
		s.base = ext
	}
	if ext < s.base {
		s.base = ext
	}
	s.received++
	s.bytes += uint64(size)
	s.updateJitter(ts, arrival)
	return ext
}

// updateJitter follows RFC 3550 section 6.4.1 and A.8: D is the difference
// of transit times of consecutive packets, J += (|D| - J) / 16. Transit is
// computed in RTP units against an arbitrary local epoch; only differences
// matter, and the timestamp difference is taken as int32 so it survives the
// 32-bit wrap.
func (s *rtpStats) updateJitter(ts uint32, arrival time.Time) {
	if s.clockRate == 0 {
		return
	}
	if !s.jitterStarted {
		s.jitterStarted = true
		s.epoch = arrival
		s.lastTransit = -int64(ts)
		return
	}
	arr := arrival.Sub(s.epoch).Nanoseconds() * int64(s.clockRate) / int64(time.Second)
	transit := arr - int64(ts)
	// Reduce the transit difference into int32 range so a timestamp wrap
	// between two packets reads as a small step, not as 2^32.
	d := int64(int32(transit - s.lastTransit))
	s.lastTransit = transit
	if d < 0 {
		d = -d
	}
	s.jitter += (float64(d) - s.jitter) / 16
}

// expected is the number of packets the sender sent between the first and
// the highest sequence number seen.
func (s *rtpStats) expected() int64 {
	if s.received == 0 {
		return 0
	}
	return s.seq.highest - s.base + 1
}

// lost is expected minus received, never negative (duplicates can make the
// difference negative, which RFC 3550 allows but a load report should not).
func (s *rtpStats) lost() int64 {
	return max(0, s.expected()-int64(s.received))
}

// lossPct is the share of expected packets that never arrived, in percent.
func (s *rtpStats) lossPct() float64 {
	exp := s.expected()
	if exp <= 0 {
		return 0
	}
	return 100 * float64(s.lost()) / float64(exp)
}

// jitterDuration converts the jitter estimate into time.
func (s *rtpStats) jitterDuration() time.Duration {
	if s.clockRate == 0 {
		return 0
	}
	return time.Duration(s.jitter * float64(time.Second) / float64(s.clockRate))
}
