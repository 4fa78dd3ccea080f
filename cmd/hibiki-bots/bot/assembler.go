package bot

import "time"

// Assembly limits. holeWait is how long a missing packet is awaited before
// the frames around it are given up: long enough for a NACK round trip (pion's
// NACK generator runs every 100 ms), short against the 500 ms freeze floor.
const (
	defaultHoleWait = 250 * time.Millisecond
	maxBuffered     = 1024
)

// rtpPacketInfo is the part of a received video packet that assembly needs.
type rtpPacketInfo struct {
	ext     int64 // extended sequence number
	ts      uint32
	marker  bool
	padding bool // padding only: fills its sequence number, no frame
	vp8     vp8Packet
	arrival time.Time
}

// assembledFrame is one video frame released by the assembler, in order.
type assembledFrame struct {
	Timestamp uint32
	// Complete is set when every packet from the frame's first (VP8 start of
	// partition 0) through its marker packet arrived.
	Complete bool
	// AfterGap is set when packets were lost between the previous frame and
	// this one, so whole frames may be missing before it.
	AfterGap bool
	// SwitchCut marks an incomplete frame whose tail was cut by a simulcast
	// layer switch: every packet from its start arrived in sequence, and the
	// very next packet starts a keyframe of another resolution. Nothing was
	// lost and the decoder resumes at that keyframe; the sender skipped one
	// frame of the old layer, which is how keyframe-gated switching behaves
	// when the old layer's frame is still in flight.
	SwitchCut     bool
	Keyframe      bool
	Width, Height int
	Packets       int
	At            time.Time
	// PictureID is the VP8 picture id of the frame's first packet, -1
	// when unknown.
	PictureID int
}

type frameInProgress struct {
	ts       uint32
	startOK  bool
	hole     bool
	afterGap bool
	packets  int
	key      bool
	w, h     int
	pid      int
}

// frameAssembler reorders packets by sequence number and groups them into
// frames by RTP timestamp and marker bit, like a receiver's jitter buffer.
// A hole in the sequence is awaited for holeWait from the arrival of the
// first packet after it (a retransmission may fill it); after that the
// frames it touches are released as incomplete.
type frameAssembler struct {
	holeWait    time.Duration
	started     bool
	next        int64
	holeSince   time.Time
	pendingHole bool
	buf         map[int64]rtpPacketInfo
	cur         *frameInProgress
	keyW, keyH  int // resolution of the latest complete keyframe
	out         []assembledFrame
	late        uint64 // packets that came after their slot was given up
}

func newFrameAssembler(holeWait time.Duration) *frameAssembler {
	return &frameAssembler{holeWait: holeWait, buf: make(map[int64]rtpPacketInfo)}
}

// push adds one packet and returns the frames it released, oldest first. The
// returned slice is reused by the next call.
func (a *frameAssembler) push(p rtpPacketInfo, now time.Time) []assembledFrame {
	a.out = a.out[:0]
	if !a.started {
		a.started = true
		a.next = p.ext
	}
	if p.ext < a.next {
		a.late++
		return a.out
	}
	if _, dup := a.buf[p.ext]; !dup {
		a.buf[p.ext] = p
	}
	a.release(now)
	return a.out
}

// release consumes buffered packets in sequence order, skipping a hole once
// it has been waited for long enough.
func (a *frameAssembler) release(now time.Time) {
	for len(a.buf) > 0 {
		if p, ok := a.buf[a.next]; ok {
			delete(a.buf, a.next)
			a.next++
			a.holeSince = time.Time{}
			a.consume(p, now)
			continue
		}
		if a.holeSince.IsZero() {
			// A packet is known missing from when a later one arrived,
			// and every hole is awaited from then, not one after the
			// other: a burst of losses (a bottleneck's queue dropping
			// its tail) costs one wait, as in a browser, whose NACK
			// module gives up on each missing packet on its own clock.
			a.holeSince = now
			for _, b := range a.buf {
				if b.arrival.Before(a.holeSince) {
					a.holeSince = b.arrival
				}
			}
		}
		if now.Sub(a.holeSince) < a.holeWait && len(a.buf) < maxBuffered {
			return
		}
		lowest := int64(-1)
		for ext := range a.buf {
			if lowest < 0 || ext < lowest {
				lowest = ext
			}
		}
		a.next = lowest
		a.holeSince = time.Time{}
		a.pendingHole = true
	}
}

func (a *frameAssembler) consume(p rtpPacketInfo, now time.Time) {
	if p.padding {
		return
	}
	if a.cur != nil && p.ts != a.cur.ts {
		// A new timestamp before the marker: the old frame's tail is lost,
		// or was never sent because a layer switch happened mid-frame.
		cut := a.cur.startOK && !a.cur.hole && !a.pendingHole &&
			p.vp8.Start && p.vp8.Keyframe && (p.vp8.Width != a.keyW || p.vp8.Height != a.keyH)
		a.emit(false, now)
		a.out[len(a.out)-1].SwitchCut = cut
	}
	if a.cur == nil {
		a.cur = &frameInProgress{ts: p.ts, startOK: p.vp8.Start, afterGap: a.pendingHole, pid: p.vp8.PictureID}
		if p.vp8.Start {
			a.cur.key, a.cur.w, a.cur.h = p.vp8.Keyframe, p.vp8.Width, p.vp8.Height
		}
	} else if a.pendingHole {
		a.cur.hole = true
	}
	a.pendingHole = false
	a.cur.packets++
	if p.marker {
		a.emit(true, now)
	}
}

func (a *frameAssembler) emit(sawMarker bool, now time.Time) {
	f := a.cur
	a.cur = nil
	if sawMarker && f.startOK && !f.hole && f.key {
		a.keyW, a.keyH = f.w, f.h
	}
	a.out = append(a.out, assembledFrame{
		Timestamp: f.ts,
		Complete:  sawMarker && f.startOK && !f.hole,
		AfterGap:  f.afterGap,
		Keyframe:  f.key,
		Width:     f.w,
		Height:    f.h,
		Packets:   f.packets,
		At:        now,
		PictureID: f.pid,
	})
}

// PLI pacing, as a browser's receiver does it: ask for a keyframe once the
// decoder has been stuck a little while, then repeat slowly while it stays
// stuck.
const (
	pliDelay    = 200 * time.Millisecond
	pliInterval = time.Second
)

// decodeTracker follows what a VP8 decoder could show: nothing before the
// first keyframe, and nothing after a lost or incomplete frame until the next
// complete keyframe.
type decodeTracker struct {
	broken      bool
	brokenSince time.Time
	lastPLI     time.Time
	lastPID     int // picture id of the last complete frame, -1 if none
}

func newDecodeTracker() *decodeTracker { return &decodeTracker{broken: true, lastPID: -1} }

// frame reports whether f can be decoded and updates the decoder state.
// Packets lost between two frames whose picture ids are consecutive were
// not media (padding, as a bandwidth probe sends): like libwebrtc's VP8
// reference finder, the decoder then carries on.
func (d *decodeTracker) frame(f assembledFrame) bool {
	last := d.lastPID
	d.lastPID = -1
	if f.Complete {
		d.lastPID = f.PictureID
	}
	if f.Complete && f.Keyframe {
		d.broken = false
		d.brokenSince = time.Time{}
		return true
	}
	if !f.Complete || (f.AfterGap && !consecutivePID(last, f.PictureID)) {
		d.breakAt(f.At)
	}
	if d.broken && d.brokenSince.IsZero() {
		d.brokenSince = f.At
	}
	return !d.broken
}

func (d *decodeTracker) breakAt(t time.Time) {
	if !d.broken {
		d.broken = true
		d.brokenSince = t
	}
}

// needPLI tells whether a keyframe request is due at now, and if so records
// that one is being sent.
func (d *decodeTracker) needPLI(now time.Time) bool {
	if !d.broken || d.brokenSince.IsZero() || now.Sub(d.brokenSince) < pliDelay {
		return false
	}
	if !d.lastPLI.IsZero() && now.Sub(d.lastPLI) < pliInterval {
		return false
	}
	d.lastPLI = now
	return true
}

// consecutivePID reports that picture id b follows a (7- or 15-bit ids).
func consecutivePID(a, b int) bool {
	if a < 0 || b < 0 {
		return false
	}
	return (a+1)&0x7fff == b || (a < 0x80 && b < 0x80 && (a+1)&0x7f == b)
}
