package sfu

import (
	"sync"
	"time"

	"github.com/pion/rtp"
)

// MaxSpatialLayers is the number of simulcast layers a Forwarder handles
// (q/h/f). Packets of other layers are dropped.
const MaxSpatialLayers = 3

// maxTemporal is the highest VP8 temporal layer id (TID is two bits).
const maxTemporal = 3

// layerAbsentAfter is how long after the first packet of a track a layer
// that has never sent anything is treated as not published, so a
// non-simulcast or partly simulcast publisher does not leave a subscriber
// that targets a missing layer with black video forever.
const layerAbsentAfter = int64(1e9)

// Packet is one parsed publisher packet as the Receiver hands it to every
// subscriber's Forwarder. It is shared: nothing downstream may modify it.
type Packet struct {
	// Header is the parsed source RTP header (read only).
	Header *rtp.Header
	// Payload is the RTP payload (read only, shared by all subscribers).
	Payload []byte
	// Layer is the spatial layer index, 0 (low) .. 2 (high); 0 for
	// non-simulcast tracks and audio.
	Layer int
	// Keyframe is set by the Receiver (ParseVP8 / H264IsKeyframe) on the
	// packet(s) that start a keyframe; switches are gated on it.
	Keyframe bool
	// VP8 is the parsed descriptor, valid when HasVP8.
	VP8 VP8Descriptor
	// HasVP8 reports that the payload is VP8 and VP8 is valid.
	HasVP8 bool
	// AudioLevel is the RFC 6464 byte (V bit and level) when HasAudioLevel;
	// it is forwarded so browsers can show levels (getSynchronizationSources).
	AudioLevel    uint8
	HasAudioLevel bool
	// ArrivalNanos is the receive time (any monotonic clock, nanoseconds);
	// it sizes the timestamp step at a switch.
	ArrivalNanos int64
}

// Decision is what a DownTrack must do with one Packet for one subscriber.
// It is a value so the decision can be tested without any I/O.
type Decision struct {
	// Drop means do not send the packet.
	Drop bool
	// SequenceNumber is the rewritten sequence number to send.
	SequenceNumber uint16
	// Timestamp is the rewritten RTP timestamp to send.
	Timestamp uint32
	// RewriteVP8 asks the DownTrack to call RewriteVP8 with PictureID and
	// TL0PICIDX; when false the payload can be sent unchanged.
	RewriteVP8 bool
	// PictureID is the 15-bit picture id to write.
	PictureID uint16
	// TL0PICIDX is the TL0PICIDX to write (when the source has one).
	TL0PICIDX uint8
	// Switched is set on the first packet of a new source layer (or of a
	// resume after pause/mute), e.g. to reset per-layer statistics.
	Switched bool
	// Marker is the source marker bit, passed through.
	Marker bool
}

// Forwarder decides, for one subscriber of one published track, which
// packets to forward and how to rewrite them so the subscriber sees one
// continuous stream while layers switch underneath. Each layer's Receiver
// goroutine calls Forward, so all state is behind one mutex; Forward never
// blocks on anything else and does not allocate.
type Forwarder struct {
	mu        sync.Mutex
	kind      Kind
	muted     bool
	paused    bool
	spatial   int // target spatial layer
	temporal  int // target temporal layer, maxTemporal for "all"
	current   int // layer being forwarded, -1 when none
	curTID    int // temporal layers currently forwarded (<= temporal)
	frameTs   uint32
	stopped   [MaxSpatialLayers]bool
	seen      [MaxSpatialLayers]bool
	firstSeen int64
	anySeen   bool
	// frameEnd: the newest packet forwarded of the current layer closed
	// its frame (marker), so padding may follow without splitting one.
	frameEnd bool
	// dropping: the current layer is dropped until the switch to the
	// target (DropCurrent).
	dropping bool
	// holdUntil is when a DropCurrent hold ends and lastArrival the
	// newest packet's arrival (both on the packets' arrival clock).
	holdUntil   int64
	lastArrival int64
	m           munger
}

// NewForwarder returns a Forwarder for a track of the given kind and RTP
// clock rate. Video starts targeting the highest layer and all temporal
// layers; the allocator lowers the target with SetTarget. A layer that has
// sent nothing within 1 s of the first packet counts as absent, so a
// non-simulcast track starts on layer 0 after at most a second even if
// nobody calls SetTarget(0, -1).
func NewForwarder(kind Kind, clockRate uint32) *Forwarder {
	f := &Forwarder{
		kind:     kind,
		spatial:  MaxSpatialLayers - 1,
		temporal: maxTemporal,
		current:  -1,
	}
	if kind != KindVideo {
		f.spatial = 0
	}
	f.m.clockRate = clockRate
	return f
}

// SetTarget sets the spatial layer to forward (clamped to 0..2) and the
// highest temporal layer (-1 or anything above 3 means all). A spatial
// change takes effect at the next keyframe of the new layer; a temporal
// decrease at the next frame, an increase at the next layer-sync frame.
func (f *Forwarder) SetTarget(spatial, temporal int) {
	spatial = max(0, min(spatial, MaxSpatialLayers-1))
	if temporal < 0 || temporal > maxTemporal {
		temporal = maxTemporal
	}
	f.mu.Lock()
	if f.kind == KindVideo {
		f.spatial = spatial
	}
	f.temporal = temporal
	f.mu.Unlock()
}

// Target returns the target set by SetTarget; temporal is -1 for "all".
func (f *Forwarder) Target() (spatial, temporal int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	temporal = f.temporal
	if temporal == maxTemporal {
		temporal = -1
	}
	return f.spatial, temporal
}

// Current returns the spatial layer being forwarded, or -1 when nothing is
// (not started yet, muted or paused).
func (f *Forwarder) Current() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.muted || f.paused {
		return -1
	}
	return f.current
}

// NeedsKeyframe reports the layer the Forwarder waits for a keyframe on:
// video that is not forwarding the layer it should. The caller asks the
// publisher for a keyframe through a KeyframeThrottle.
func (f *Forwarder) NeedsKeyframe() (layer int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kind != KindVideo || f.muted || f.paused {
		return 0, false
	}
	want := f.effectiveTarget()
	if f.current == want || f.lastArrival < f.holdUntil {
		return 0, false
	}
	return want, true
}

// SetMuted stops (true) or resumes (false) forwarding because the
// publisher muted the track. Resumed video waits for a keyframe.
func (f *Forwarder) SetMuted(muted bool) {
	f.mu.Lock()
	f.setStopped(muted, f.paused)
	f.mu.Unlock()
}

// SetPaused stops (true) or resumes (false) forwarding because the
// subscriber does not need the track (hidden tile, no bandwidth). Resumed
// video waits for a keyframe.
func (f *Forwarder) SetPaused(paused bool) {
	f.mu.Lock()
	f.setStopped(f.muted, paused)
	f.mu.Unlock()
}

// Paused reports whether SetPaused stopped forwarding.
func (f *Forwarder) Paused() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paused
}

// setStopped applies mute/pause; video forgets its layer so that resuming
// goes through the keyframe-gated start.
func (f *Forwarder) setStopped(muted, paused bool) {
	f.muted, f.paused = muted, paused
	if (muted || paused) && f.kind == KindVideo {
		f.current = -1
	}
}

// LayerStopped tells the Forwarder that a layer stopped arriving
// (publisher uplink trouble, paused encoding). If it is the layer being
// forwarded, the Forwarder switches at the first keyframe of any live
// layer up to the target instead of freezing. A layer counts as live again
// as soon as one of its packets arrives.
func (f *Forwarder) LayerStopped(layer int) {
	if layer < 0 || layer >= MaxSpatialLayers {
		return
	}
	f.mu.Lock()
	f.stopped[layer] = true
	f.mu.Unlock()
}

// effectiveTarget is the highest layer up to the target that is live.
func (f *Forwarder) effectiveTarget() int {
	for l := f.spatial; l >= 0; l-- {
		if !f.stopped[l] {
			return l
		}
	}
	return f.spatial
}

// live reports whether layer l may be forwarded: not reported stopped by
// LayerStopped and not absent (see observe) since its last packet.
func (f *Forwarder) live(l int) bool {
	return !f.stopped[l]
}

// observe records that layer l delivered a packet at arrival, and marks
// layers that never delivered anything within layerAbsentAfter as stopped.
func (f *Forwarder) observe(l int, arrival int64) {
	f.stopped[l] = false
	f.seen[l] = true
	if !f.anySeen {
		f.anySeen, f.firstSeen = true, arrival
		return
	}
	if arrival-f.firstSeen < layerAbsentAfter {
		return
	}
	for i := range f.seen {
		if !f.seen[i] {
			f.stopped[i] = true
		}
	}
}

// Forward decides what to do with p for this subscriber.
func (f *Forwarder) Forward(p *Packet) Decision {
	if p == nil || p.Header == nil || p.Layer < 0 || p.Layer >= MaxSpatialLayers {
		return Decision{Drop: true}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kind != KindVideo {
		return f.forwardAudio(p)
	}
	return f.forwardVideo(p)
}

// forwardAudio passes everything through; muted packets are dropped
// without leaving a sequence number hole.
func (f *Forwarder) forwardAudio(p *Packet) Decision {
	if f.muted || f.paused {
		f.m.drop(p)
		return Decision{Drop: true}
	}
	switched := false
	if f.current < 0 {
		f.m.switchTo(p)
		f.current = p.Layer
		switched = true
	} else if p.Layer != f.current {
		return Decision{Drop: true}
	}
	return f.emit(p, switched)
}

// forwardVideo applies keyframe gating, layer switching and temporal
// dropping.
func (f *Forwarder) forwardVideo(p *Packet) Decision {
	f.observe(p.Layer, p.ArrivalNanos)
	if f.muted || f.paused {
		return Decision{Drop: true}
	}
	f.lastArrival = p.ArrivalNanos
	if p.ArrivalNanos >= f.holdUntil && f.shouldSwitch(p) {
		f.m.switchTo(p)
		f.dropping = false
		f.current = p.Layer
		f.curTID = f.temporal
		f.frameTs = p.Header.Timestamp
		d := f.emit(p, true)
		f.frameEnd = !d.Drop && p.Header.Marker
		return d
	}
	if f.current < 0 {
		return Decision{Drop: true} // waiting for a keyframe
	}
	if p.Layer != f.current {
		// Late packets of the layer forwarded before a switch still fit
		// in the range it used; the munger drops anything else.
		if len(p.Payload) == 0 || (p.HasVP8 && p.VP8.HasTID && int(p.VP8.TID) > f.curTID) {
			return Decision{Drop: true}
		}
		return f.emit(p, false)
	}
	if len(p.Payload) == 0 || f.dropping || f.temporalDrop(p) {
		f.m.drop(p)
		return Decision{Drop: true}
	}
	d := f.emit(p, false)
	if !d.Drop {
		f.frameEnd = p.Header.Marker
	}
	return d
}

// DropCurrent stops forwarding the current layer before the switch to a
// lower target happens at its keyframe: the link is congested and the old
// layer's packets would only delay that keyframe. The receiver sees one
// frame cut short (no sequence gap) and then the keyframe. For hold after
// the newest packet the switch waits, neither asking for a keyframe nor
// taking one (see bwe.Target.Hold).
func (f *Forwarder) DropCurrent(hold time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kind == KindVideo && f.current >= 0 && f.effectiveTarget() < f.current {
		f.dropping = true
		f.frameEnd = false
		f.holdUntil = f.lastArrival + max(int64(hold), 0)
	}
}

// Holding reports whether a DropCurrent hold is running: no keyframe is
// to be asked for yet.
func (f *Forwarder) Holding() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastArrival < f.holdUntil
}

// Resendable reports whether a retransmission of a packet of layer is of
// use: only while that layer is the one being forwarded. After a switch
// the receiver decodes from the new layer's keyframe, so the old layer's
// lost packets are not needed any more; while paused, muted, or dropping
// the current layer for congestion (DropCurrent), resending would only
// delay the keyframe that is awaited.
func (f *Forwarder) Resendable(layer int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.muted && !f.paused && !f.dropping && f.current == layer
}

// Padding reserves n output sequence numbers for padding-only packets and
// returns the first, with the timestamp to send them with. It refuses
// (ok false) unless video of the current layer is flowing and the newest
// forwarded packet ended a frame: padding never lands inside a frame, where
// it would look like a lost media packet to the receiver until the frame's
// tail arrives. A paused track may carry padding too: a subscriber whose
// video is all paused for lack of bandwidth can only be probed that way.
// A track its publisher muted carries none: its subscribers are told it is
// muted and expect nothing on it (a padding probe there showed as "still
// forwarding" in stats), and its bandwidth is needed only once it is
// unmuted. Once the forwarder waits for a keyframe (paused, muted,
// resumed or started over: current < 0) the frame it last forwarded is
// never continued, so padding is allowed there even if that frame was cut
// short (a pause mid-frame, DropCurrent, a direct connection taking over);
// refusing it would leave such a track unable to carry the probe that
// could unpause it.
func (f *Forwarder) Padding(n int) (seq uint16, ts uint32, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kind != KindVideo || f.muted || (!f.frameEnd && f.current >= 0) {
		return 0, 0, false
	}
	return f.m.padding(n)
}

// shouldSwitch reports whether p is the first packet of a keyframe that
// the Forwarder should start forwarding from.
func (f *Forwarder) shouldSwitch(p *Packet) bool {
	if !p.Keyframe || (p.HasVP8 && (!p.VP8.S || p.VP8.PartitionID != 0)) {
		return false
	}
	l := p.Layer
	if l == f.current {
		return false
	}
	if l == f.effectiveTarget() {
		return true
	}
	// The forwarded layer stopped arriving: take the first keyframe of any
	// live layer up to the target rather than freezing until the
	// effective target sends one.
	return f.current >= 0 && !f.live(f.current) && l <= f.spatial && f.live(l)
}

// temporalDrop applies the temporal target to a packet of the current
// layer. The forwarded temporal set changes only at a new frame: down at
// once, up one layer at a time at layer-sync frames.
func (f *Forwarder) temporalDrop(p *Packet) bool {
	if !p.HasVP8 || !p.VP8.HasTID {
		return false
	}
	if ts := p.Header.Timestamp; int32(ts-f.frameTs) > 0 {
		f.frameTs = ts
		switch {
		case f.curTID > f.temporal:
			f.curTID = f.temporal
		case f.curTID < f.temporal && p.Keyframe:
			f.curTID = f.temporal
		case f.curTID < f.temporal && p.VP8.LayerSync && int(p.VP8.TID) == f.curTID+1:
			f.curTID++
		}
	}
	return int(p.VP8.TID) > f.curTID
}

// emit maps p through the munger into a forwarding Decision.
func (f *Forwarder) emit(p *Packet, switched bool) Decision {
	out, ok := f.m.forward(p)
	if !ok {
		return Decision{Drop: true}
	}
	d := Decision{
		SequenceNumber: out.seq,
		Timestamp:      out.ts,
		Switched:       switched,
		Marker:         p.Header.Marker,
	}
	if out.vp8 {
		d.PictureID, d.TL0PICIDX = out.pictureID, out.tl0
		v := &p.VP8
		d.RewriteVP8 = !v.PictureID15 || v.PictureID != out.pictureID ||
			(v.HasTL0PICIDX && v.TL0PICIDX != out.tl0)
	}
	return d
}
