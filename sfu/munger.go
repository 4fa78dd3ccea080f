package sfu

// The munger turns the packets of several source streams (simulcast layers,
// or one stream with intentional drops) into one continuous RTP stream
// toward one subscriber. It is not safe for concurrent use: the Forwarder
// owns one and calls it under its lock.
//
// All counters are unwrapped into int64 "extended" values, so 16-bit
// sequence numbers, 15- or 7-bit picture ids and 8-bit TL0PICIDX wrap
// without special cases; only the final output is truncated.

// mungerRanges is how many offset changes (intentional drop runs) of one
// source are remembered to map late packets. Older late packets are
// dropped. 32 drop runs cover ~1 s of a 30 fps stream that drops every
// other frame, far more than any useful reordering window.
const mungerRanges = 32

// unwrapper extends a counter of a given bit width into an int64, relative
// to the highest value seen so far.
type unwrapper struct {
	high  int64
	bits  uint8
	valid bool
}

// reset starts unwrapping at v.
func (u *unwrapper) reset(v uint32, bits uint8) {
	u.bits = bits
	u.high = int64(v)
	u.valid = true
}

// peek returns the extended value of v without recording it.
func (u *unwrapper) peek(v uint32) int64 {
	m := int64(1) << u.bits
	d := (int64(v) - u.high) & (m - 1)
	if d >= m/2 {
		d -= m
	}
	return u.high + d
}

// update returns the extended value of v and records it when newest.
func (u *unwrapper) update(v uint32) int64 {
	e := u.peek(v)
	if e > u.high {
		u.high = e
	}
	return e
}

// offsetRange says: source values in [gap, start) were dropped on purpose,
// and values from start up to the next range's gap map to value+offset.
type offsetRange struct {
	gap, start, offset int64
}

// offsetMap maps extended source values to extended output values while
// closing the holes left by intentional drops. Each drop of the newest value
// lowers the offset of everything after it by one; drop runs merge into one
// range so a long mute costs one entry.
type offsetMap struct {
	ring  [mungerRanges]offsetRange
	head  int   // index of the newest range
	n     int   // number of valid ranges
	high  int64 // highest source value forwarded or dropped
	valid bool
}

// reset starts a new map where source value src maps to output out.
func (m *offsetMap) reset(src, out int64) {
	m.head, m.n = 0, 1
	m.ring[0] = offsetRange{gap: src, start: src, offset: out - src}
	m.high = src
	m.valid = true
}

// lookup maps src; ok is false when src was dropped on purpose, is older
// than the remembered ranges, or is newer than high and newer is false.
func (m *offsetMap) lookup(src int64, newer bool) (int64, bool) {
	if !m.valid || (!newer && src > m.high) {
		return 0, false
	}
	for i, idx := 0, m.head; i < m.n; i++ {
		r := &m.ring[idx]
		if src >= r.gap {
			if src < r.start {
				return 0, false
			}
			return src + r.offset, true
		}
		idx = (idx + mungerRanges - 1) % mungerRanges
	}
	return 0, false
}

// see records src as seen (forwarded).
func (m *offsetMap) see(src int64) {
	if src > m.high {
		m.high = src
	}
}

// drop records that src is dropped on purpose. Only the newest value can
// be removed from the output without renumbering packets already sent; an
// older one leaves a hole, which the subscriber treats as loss.
func (m *offsetMap) drop(src int64) {
	if !m.valid || src <= m.high {
		return
	}
	m.high = src
	last := &m.ring[m.head]
	if last.start == src {
		last.start++
		last.offset--
		return
	}
	m.head = (m.head + 1) % mungerRanges
	if m.n < mungerRanges {
		m.n++
	}
	m.ring[m.head] = offsetRange{gap: src, start: src + 1, offset: last.offset - 1}
}

// insert makes room for k output values that no source packet uses
// (padding) right after the newest source value, and returns the first of
// them. Values already forwarded keep their mapping.
func (m *offsetMap) insert(k int64) int64 {
	first := m.next()
	last := &m.ring[m.head]
	if last.start > m.high {
		// The newest range starts after everything seen (a drop run just
		// ended): shifting it moves only what comes next.
		last.offset += k
		return first
	}
	off := last.offset + k
	m.head = (m.head + 1) % mungerRanges
	if m.n < mungerRanges {
		m.n++
	}
	m.ring[m.head] = offsetRange{gap: m.high + 1, start: m.high + 1, offset: off}
	return first
}

// next is the output value the next in-order source value would get.
func (m *offsetMap) next() int64 {
	return m.high + 1 + m.ring[m.head].offset
}

// mungerSource is the mapping state of one source stream (one layer between
// two switches).
type mungerSource struct {
	layer    int
	valid    bool
	firstTs  uint32 // output timestamp of the first packet
	seq      unwrapper
	seqMap   offsetMap
	tsOffset uint32
	pid      unwrapper
	pidMap   offsetMap
	tl0      unwrapper
	tl0Off   int64
	hasTL0   bool
}

// mungerOut is the rewritten identity of one forwarded packet.
type mungerOut struct {
	seq       uint16
	ts        uint32
	pictureID uint16
	tl0       uint8
	vp8       bool // picture id (and tl0 when present) are valid
}

// munger keeps the output stream continuous across source switches.
type munger struct {
	clockRate uint32
	cur, prev mungerSource
	started   bool

	nextSeq     int64  // output seq for the first packet after a switch
	lastTs      uint32 // output timestamp of the newest forwarded frame
	lastArrival int64  // arrival of the first packet of that frame
	hasPID      bool
	lastPID     int64 // extended output picture id of the newest picture
	hasTL0      bool
	lastTL0     int64 // extended output TL0PICIDX of the newest picture
}

// pidBits is the width of the picture id as the source sends it.
func pidBits(d *VP8Descriptor) uint8 {
	if d.PictureID15 {
		return 15
	}
	return 7
}

// switchTo makes p's stream the current source; p (the first packet of a
// keyframe) will be the first packet forwarded from it. The previous source
// is kept to map its late packets.
func (m *munger) switchTo(p *Packet) {
	if m.started {
		m.closeCurrent()
	}
	h := p.Header
	s := &m.cur
	*s = mungerSource{layer: p.Layer, valid: true}
	s.seq.reset(uint32(h.SequenceNumber), 16)
	if !m.started {
		m.nextSeq = int64(h.SequenceNumber)
		m.lastTs = h.Timestamp - 1
		m.lastArrival = p.ArrivalNanos
	}
	s.seqMap.reset(s.seq.high, m.nextSeq)
	s.tsOffset = m.lastTs + m.tsDelta(p.ArrivalNanos) - h.Timestamp
	if !m.started {
		s.tsOffset = 0
	}
	s.firstTs = h.Timestamp + s.tsOffset
	if p.HasVP8 && p.VP8.HasPictureID {
		s.pid.reset(uint32(p.VP8.PictureID), pidBits(&p.VP8))
		out := s.pid.high
		if m.hasPID {
			out = m.lastPID + 1
		}
		s.pidMap.reset(s.pid.high, out)
	}
	if p.HasVP8 && p.VP8.HasTL0PICIDX {
		s.hasTL0 = true
		s.tl0.reset(uint32(p.VP8.TL0PICIDX), 8)
		out := s.tl0.high
		if m.hasTL0 {
			out = m.lastTL0 + 1
		}
		s.tl0Off = out - s.tl0.high
	}
	m.started = true
}

// closeCurrent moves the current source to prev, remembering where the
// output continues.
func (m *munger) closeCurrent() {
	if !m.cur.valid {
		return
	}
	m.nextSeq = m.cur.seqMap.next()
	if m.cur.pidMap.valid {
		m.lastPID = m.cur.pidMap.next() - 1
		m.hasPID = true
	}
	if m.cur.hasTL0 {
		m.lastTL0 = m.cur.tl0.high + m.cur.tl0Off
		m.hasTL0 = true
	}
	m.prev = m.cur
	m.cur.valid = false
}

// tsDelta converts the time since the last forwarded frame arrived into
// clock ticks, at least one so timestamps stay strictly monotonic.
func (m *munger) tsDelta(arrival int64) uint32 {
	d := arrival - m.lastArrival
	if d <= 0 || m.clockRate == 0 {
		return 1
	}
	const second = int64(1e9)
	ticks := d/second*int64(m.clockRate) + d%second*int64(m.clockRate)/second
	if ticks < 1 {
		return 1
	}
	if ticks > 1<<30 { // keep the jump well inside the int32 comparison window
		ticks = 1 << 30
	}
	return uint32(ticks)
}

// forward maps a packet of the current source, or a late packet of the
// previous one. ok is false when the packet cannot be placed in the output
// without colliding with numbers already used: the caller drops it.
func (m *munger) forward(p *Packet) (mungerOut, bool) {
	if !m.started {
		return mungerOut{}, false
	}
	if m.cur.valid && p.Layer == m.cur.layer {
		if out, ok := m.mapCurrent(p); ok {
			return out, true
		}
	}
	if m.prev.valid && p.Layer == m.prev.layer {
		return m.mapPrev(p)
	}
	return mungerOut{}, false
}

// mapCurrent maps a packet of the current source, recording it as seen.
func (m *munger) mapCurrent(p *Packet) (mungerOut, bool) {
	s := &m.cur
	ext := s.seq.peek(uint32(p.Header.SequenceNumber))
	outSeq, ok := s.seqMap.lookup(ext, true)
	if !ok {
		return mungerOut{}, false
	}
	out := mungerOut{seq: uint16(outSeq), ts: p.Header.Timestamp + s.tsOffset}
	if !m.mapVP8(s, p, &out, true) {
		return mungerOut{}, false
	}
	s.seq.update(uint32(p.Header.SequenceNumber))
	s.seqMap.see(ext)
	if int32(out.ts-m.lastTs) > 0 {
		m.lastTs = out.ts
		m.lastArrival = p.ArrivalNanos
	}
	return out, true
}

// mapPrev maps a late packet of the previous source into the range it used
// before the switch; anything newer than what it had sent is dropped.
func (m *munger) mapPrev(p *Packet) (mungerOut, bool) {
	s := &m.prev
	ext := s.seq.peek(uint32(p.Header.SequenceNumber))
	outSeq, ok := s.seqMap.lookup(ext, false)
	if !ok {
		return mungerOut{}, false
	}
	out := mungerOut{seq: uint16(outSeq), ts: p.Header.Timestamp + s.tsOffset}
	if m.cur.valid && int32(out.ts-m.cur.firstTs) >= 0 {
		// A frame the old source had not started before the switch: its
		// timestamp would land after the new source's first frame.
		return mungerOut{}, false
	}
	if !m.mapVP8(s, p, &out, false) {
		return mungerOut{}, false
	}
	return out, true
}

// mapVP8 fills the picture id and TL0PICIDX of out. It returns false when
// the picture was dropped on purpose or cannot be placed.
func (m *munger) mapVP8(s *mungerSource, p *Packet, out *mungerOut, cur bool) bool {
	if !p.HasVP8 || !p.VP8.HasPictureID || !s.pidMap.valid {
		return true
	}
	if s.pid.bits != pidBits(&p.VP8) {
		return false // the source changed picture id width mid-stream
	}
	var ext int64
	if cur {
		ext = s.pid.update(uint32(p.VP8.PictureID))
	} else {
		ext = s.pid.peek(uint32(p.VP8.PictureID))
	}
	pid, ok := s.pidMap.lookup(ext, cur)
	if !ok {
		return false
	}
	if cur {
		s.pidMap.see(ext)
	}
	out.vp8 = true
	out.pictureID = uint16(pid) & 0x7fff
	if p.VP8.HasTL0PICIDX && s.hasTL0 {
		var t int64
		if cur {
			t = s.tl0.update(uint32(p.VP8.TL0PICIDX))
		} else {
			t = s.tl0.peek(uint32(p.VP8.TL0PICIDX))
		}
		out.tl0 = uint8(t + s.tl0Off)
	} else {
		out.tl0 = p.VP8.TL0PICIDX
	}
	return true
}

// padding reserves k output sequence numbers after the newest forwarded
// packet and returns the first, with the newest output timestamp.
func (m *munger) padding(k int) (seq uint16, ts uint32, ok bool) {
	if !m.started || !m.cur.valid || k <= 0 {
		return 0, 0, false
	}
	return uint16(m.cur.seqMap.insert(int64(k))), m.lastTs, true
}

// drop records that a packet of the current source is dropped on purpose
// (temporal layer above target, padding, mute), so the output has no hole.
func (m *munger) drop(p *Packet) {
	s := &m.cur
	if !m.started || !s.valid || p.Layer != s.layer {
		return
	}
	ext := s.seq.update(uint32(p.Header.SequenceNumber))
	s.seqMap.drop(ext)
	if p.HasVP8 && p.VP8.HasPictureID && s.pidMap.valid && s.pid.bits == pidBits(&p.VP8) {
		s.pidMap.drop(s.pid.update(uint32(p.VP8.PictureID)))
	}
}
