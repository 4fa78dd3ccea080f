package sfu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// DownTrack is one published track as one subscriber receives it: a pion
// TrackLocal with the subscriber's own SSRC and payload type, fed by the
// publisher's receivers through a Forwarder that decides what to send.
type DownTrack struct {
	track *PublishedTrack
	sub   downstream

	sender *webrtc.RTPSender
	// direct: the subscriber receives this track over a peer-to-peer
	// connection; nothing is forwarded and no layer is needed for it.
	direct atomic.Bool
	// sent counts the packets forwarded, for SubscriptionState.
	sent atomic.Uint64

	mu     sync.Mutex
	fwd    *Forwarder
	writer webrtc.TrackLocalWriter
	ssrc   uint32
	pt     uint8
	bound  bool
	closed bool
	hdr    rtp.Header
	buf    *[1500]byte // VP8 rewrites, allocated at the first one
	// seq remembers what each sent packet was, for NACKs (video only);
	// rtx is the scratch space of a resend, allocated at the first NACK.
	seq *sequencer
	rtx *resendScratch
	// keyTs is the output timestamp of the newest keyframe forwarded.
	keyTs    uint32
	keySeen  bool
	wantW    int
	wantH    int
	maxLayer int
	sized    bool
	hidden   bool
	// levelID is the subscriber's negotiated audio-level extension id.
	levelID uint8
	level   [1]byte
	// The bandwidth allocator's decision: a ceiling on the spatial layer
	// (-1: none yet), the temporal target, and a pause for lack of
	// bandwidth (distinct from a hidden tile's pause).
	allocLayer    int
	allocTemporal int
	// dropNow and dropHold carry an Immediate allocation (bwe.Target)
	// to the next reselect, which applies it with the new target.
	dropNow  bool
	dropHold time.Duration
	// rtt is the round trip to the subscriber from its last report (0:
	// unknown), and born the DownTrack's clock for sentPacket.resentAt.
	rtt      time.Duration
	born     time.Time
	bwPaused bool
	pad      rtp.Header
}

func newDownTrack(t *PublishedTrack, sub downstream) *DownTrack {
	d := &DownTrack{
		track:    t,
		sub:      sub,
		fwd:      NewForwarder(t.kind, t.codec.ClockRate),
		maxLayer: -1,

		allocLayer:    -1,
		allocTemporal: -1,
		born:          time.Now(),
	}
	if t.kind == KindVideo {
		d.seq = &sequencer{}
	}
	return d
}

// ID is the published track's SID, so msid names it on the subscriber side.
func (d *DownTrack) ID() string { return d.track.sid }

// RID is empty: a subscriber always receives one stream.
func (d *DownTrack) RID() string { return "" }

// StreamID is the publisher's SID, grouping its tracks in one MediaStream.
func (d *DownTrack) StreamID() string { return d.track.owner.sid }

// Kind returns the pion codec type.
func (d *DownTrack) Kind() webrtc.RTPCodecType {
	if d.track.kind == KindVideo {
		return webrtc.RTPCodecTypeVideo
	}
	return webrtc.RTPCodecTypeAudio
}

// Bind is called by pion when the subscribe connection negotiated this
// track; it picks the codec matching the publisher's.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	want := d.track.codec
	var pick *webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if !strings.EqualFold(c.MimeType, want.MimeType) {
			continue
		}
		if pick == nil || c.SDPFmtpLine == want.SDPFmtpLine {
			c := c
			pick = &c
		}
	}
	if pick == nil {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("%w: subscriber cannot receive %s", webrtc.ErrUnsupportedCodec, want.MimeType)
	}
	d.mu.Lock()
	d.writer = ctx.WriteStream()
	d.ssrc = uint32(ctx.SSRC())
	d.pt = uint8(pick.PayloadType)
	d.bound = true
	for _, e := range ctx.HeaderExtensions() {
		if e.URI == AudioLevelURI {
			d.levelID = uint8(e.ID)
		}
	}
	d.mu.Unlock()
	if d.track.kind == KindVideo && d.sub.mediaReady() {
		d.track.requestKeyframe(d.targetLayer())
	}
	return *pick, nil
}

// Unbind is called by pion when the track is removed from the connection.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.mu.Lock()
	d.bound = false
	d.mu.Unlock()
	return nil
}

// WriteRTP forwards one source packet, rewritten for this subscriber. It is
// called by up to one receiver goroutine per layer; the mutex is this
// subscriber's own, so subscribers never wait on each other.
func (d *DownTrack) WriteRTP(p *Packet) {
	if !d.sub.mediaReady() {
		return
	}
	d.mu.Lock()
	if !d.bound || d.closed {
		d.mu.Unlock()
		return
	}
	dec := d.fwd.Forward(p)
	if dec.Drop {
		layer, need := d.fwd.NeedsKeyframe()
		d.mu.Unlock()
		if need {
			d.track.requestKeyframe(layer)
		}
		return
	}
	if d.seq != nil {
		if p.Keyframe {
			d.keyTs, d.keySeen = dec.Timestamp, true
		}
		d.seq.push(p.Layer, p.Header.SequenceNumber, &dec, d.keySeen && dec.Timestamp == d.keyTs)
	}
	n, err := d.writeLocked(p, &dec)
	d.mu.Unlock()
	stats := d.track.owner.room.sfu.opts.stats
	if err != nil {
		stats.WriteErrors.Add(1)
		return
	}
	d.sent.Add(1)
	stats.PacketsOut.Add(1)
	stats.BytesOut.Add(uint64(n + 12))
	room := &d.track.owner.room.counters // the subscriber (or WHEP viewer) is in the same room
	room.PacketsOut.Add(1)
	room.BytesOut.Add(uint64(n + 12))
	if dec.Switched {
		stats.LayerSwitches.Add(1)
	}
}

// writeLocked rewrites a source packet for this subscriber as dec says and
// writes it; it returns the payload size written. d.mu must be held: the
// header and VP8 buffers are the DownTrack's own, reused for every packet.
func (d *DownTrack) writeLocked(p *Packet, dec *Decision) (int, error) {
	h := &d.hdr
	*h = *p.Header
	h.SSRC = d.ssrc
	h.PayloadType = d.pt
	h.SequenceNumber = dec.SequenceNumber
	h.Timestamp = dec.Timestamp
	h.Marker = dec.Marker
	h.Extension = false
	h.Extensions = h.Extensions[:0]
	h.ExtensionProfile = 0
	h.Padding = false
	h.PaddingSize = 0
	if p.HasAudioLevel && d.levelID != 0 {
		d.level[0] = p.AudioLevel
		// Extensions has capacity from earlier packets: no allocation.
		_ = h.SetExtension(d.levelID, d.level[:])
	}
	payload := p.Payload
	if dec.RewriteVP8 {
		if d.buf == nil {
			d.buf = new([1500]byte)
		}
		n, err := RewriteVP8(d.buf[:], payload, &p.VP8, dec.PictureID, dec.TL0PICIDX)
		if err != nil {
			return 0, err
		}
		payload = d.buf[:n]
	}
	if _, err := d.writer.WriteRTP(h, payload); err != nil {
		return 0, fmt.Errorf("write rtp: %w", err)
	}
	return len(payload), nil
}

// readRTCP handles the subscriber's feedback: keyframe requests go to the
// publisher (coalesced); NACKs are answered from the layers' shared packet
// caches (resend in nack.go). It reads raw RTCP into one buffer and looks
// only at the packets it acts on: most of a subscriber's RTCP is TWCC
// feedback and receiver reports, which pion's ReadRTCP would allocate for
// and unmarshal on every read.
func (d *DownTrack) readRTCP() {
	buf := make([]byte, 1500)
	var nack rtcp.TransportLayerNack
	for {
		n, _, err := d.sender.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
				d.sub.log().Debug("subscriber rtcp ended", "err", err)
			}
			return
		}
		d.handleRTCP(buf[:n], &nack)
	}
}

// handleRTCP acts on one compound RTCP packet from the subscriber; nack is
// scratch space reused across calls.
func (d *DownTrack) handleRTCP(b []byte, nack *rtcp.TransportLayerNack) {
	stats := d.track.owner.room.sfu.opts.stats
	for len(b) >= 4 {
		size := (int(binary.BigEndian.Uint16(b[2:4])) + 1) * 4
		if b[0]>>6 != 2 || size > len(b) {
			return // malformed: ignore the rest of the compound packet
		}
		switch feedbackOf(b) {
		case feedbackKeyframe:
			stats.PLIsReceived.Add(1)
			d.track.requestKeyframe(d.currentLayer())
		case feedbackReport:
			d.mu.Lock()
			if rtt, ok := reportRTT(b[:size], d.ssrc, time.Now()); ok {
				d.rtt = rtt
			}
			d.mu.Unlock()
		case feedbackNACK:
			// Unmarshal appends to Nacks: start from an empty list, or
			// every NACK would resend all the earlier ones again.
			*nack = rtcp.TransportLayerNack{Nacks: nack.Nacks[:0]}
			if nack.Unmarshal(b[:size]) == nil {
				stats.NACKsReceived.Add(1)
				d.resend(nack)
			}
		}
		b = b[size:]
	}
}

type feedback uint8

const (
	feedbackOther feedback = iota
	feedbackKeyframe
	feedbackNACK
	feedbackReport
)

// feedbackOf classifies one RTCP packet by its header: PLI and FIR ask for
// a keyframe, a generic NACK for retransmissions; a sender or receiver
// report carries the round trip (reportRTT).
func feedbackOf(b []byte) feedback {
	format := b[0] & 0x1f
	switch rtcp.PacketType(b[1]) {
	case rtcp.TypePayloadSpecificFeedback:
		if format == rtcp.FormatPLI || format == rtcp.FormatFIR {
			return feedbackKeyframe
		}
	case rtcp.TypeTransportSpecificFeedback:
		if format == rtcp.FormatTLN {
			return feedbackNACK
		}
	case rtcp.TypeReceiverReport, rtcp.TypeSenderReport:
		return feedbackReport
	}
	return feedbackOther
}

func (d *DownTrack) currentLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l := d.fwd.Current(); l >= 0 {
		return l
	}
	l, _ := d.fwd.Target()
	return l
}

func (d *DownTrack) targetLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, _ := d.fwd.Target()
	return l
}

func (d *DownTrack) setMuted(muted bool) {
	d.mu.Lock()
	d.fwd.SetMuted(muted)
	d.mu.Unlock()
}

// setWanted records the subscriber's tile size and re-selects the layer.
func (d *DownTrack) setWanted(w, h, maxLayer int) {
	hidden := w == 0 && h == 0
	d.mu.Lock()
	d.wantW, d.wantH, d.maxLayer, d.sized = w, h, maxLayer, true
	d.fwd.SetPaused(hidden || d.bwPaused || d.direct.Load())
	changed := d.hidden != hidden && !d.bwPaused
	d.hidden = hidden
	d.mu.Unlock()
	if changed {
		d.sub.notify(SubscriptionPaused{TrackSID: d.track.sid, Paused: hidden})
	}
	d.reselect(d.track.layerInfos())
	d.track.poke() // resume a paused encoding now, not at the next tick
	d.sub.reallocate()
}

// defaultTile is the size assumed before the subscriber says what its tile
// is: the middle layer, good enough for a grid tile.
const defaultTileW, defaultTileH = 640, 360

// wanted returns the tile size to select for; d.mu must be held.
func (d *DownTrack) wanted() (w, h int) {
	if !d.sized {
		return defaultTileW, defaultTileH
	}
	return d.wantW, d.wantH
}

// desiredLayer is the layer this subscriber would take if every layer were
// live: what the publisher should keep encoding for it. -1 when hidden.
func (d *DownTrack) desiredLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.desiredLocked(d.track.layerInfos())
}

// desiredLocked is desiredLayer with d.mu held.
func (d *DownTrack) desiredLocked(infos []LayerInfo) int {
	w, h := d.wanted()
	if (w == 0 && h == 0) || d.direct.Load() {
		return -1
	}
	all := make([]LayerInfo, len(infos))
	copy(all, infos)
	for i := range all {
		all[i].Live = true
	}
	return SelectLayer(all, w, h, d.layerCap(), 0)
}

// forwardedLayer is the layer being forwarded now (-1 none): the publisher
// must keep it on until the switch away from it has happened.
func (d *DownTrack) forwardedLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fwd.Current()
}

// reselect applies the layer policy to the current layer infos. The
// forwarder's target is the layer the tile wants even while that layer is
// paused at the publisher: the forwarder keeps forwarding the best live
// layer below it (layers not live are marked stopped) and switches on the
// very first keyframe of the wanted layer when it resumes.
func (d *DownTrack) reselect(infos []LayerInfo) {
	if d.track.kind != KindVideo {
		return
	}
	d.mu.Lock()
	want := d.desiredLocked(infos)
	if d.allocLayer >= 0 && want >= 0 {
		want = min(want, d.allocLayer)
	}
	old, _ := d.fwd.Target()
	for i, info := range infos {
		if !info.Live {
			d.fwd.LayerStopped(i)
		}
	}
	if want >= 0 {
		d.fwd.SetTarget(want, d.allocTemporal)
		if d.dropNow {
			d.fwd.DropCurrent(d.dropHold) // only if the new target is below
		}
	}
	d.dropNow = false
	held := d.fwd.Holding()
	d.mu.Unlock()
	if want >= 0 && want != old && want < len(infos) && infos[want].Live && !held {
		d.track.requestKeyframe(want)
	}
}

// layerCap is the highest layer the subscriber allows; d.mu must be held.
func (d *DownTrack) layerCap() int {
	if d.maxLayer < 0 {
		return MaxSpatialLayers - 1
	}
	return d.maxLayer
}

// setDirect stops (on) or resumes forwarding because the subscriber
// receives the track over a direct connection. The publisher's layers
// follow through updateActiveLayers; resumed video starts at a keyframe.
func (d *DownTrack) setDirect(on bool) {
	d.mu.Lock()
	changed := d.direct.Swap(on) != on
	d.fwd.SetPaused(d.hidden || d.bwPaused || on)
	d.mu.Unlock()
	if !changed {
		return
	}
	if !on {
		d.reselect(d.track.layerInfos())
		d.track.requestKeyframe(d.targetLayer())
	}
	d.track.poke()
	d.sub.reallocate() // the allocator skips a direct track: tell it now
}

func (d *DownTrack) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
}
