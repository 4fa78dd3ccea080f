package sfu

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

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

	mu       sync.Mutex
	fwd      *Forwarder
	writer   webrtc.TrackLocalWriter
	ssrc     uint32
	pt       uint8
	bound    bool
	closed   bool
	hdr      rtp.Header
	buf      [1500]byte
	wantW    int
	wantH    int
	maxLayer int
	sized    bool
	hidden   bool
	// levelID is the subscriber's negotiated audio-level extension id.
	levelID uint8
	level   [1]byte
}

func newDownTrack(t *PublishedTrack, sub downstream) *DownTrack {
	return &DownTrack{
		track:    t,
		sub:      sub,
		fwd:      NewForwarder(t.kind, t.codec.ClockRate),
		maxLayer: -1,
	}
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
		n, err := RewriteVP8(d.buf[:], p.Payload, &p.VP8, dec.PictureID, dec.TL0PICIDX)
		if err != nil {
			d.mu.Unlock()
			return
		}
		payload = d.buf[:n]
	}
	_, err := d.writer.WriteRTP(h, payload)
	d.mu.Unlock()
	stats := d.track.owner.room.sfu.opts.stats
	if err != nil {
		stats.WriteErrors.Add(1)
		return
	}
	stats.PacketsOut.Add(1)
	stats.BytesOut.Add(uint64(len(payload) + 12))
	if dec.Switched {
		stats.LayerSwitches.Add(1)
	}
}

// readRTCP handles the subscriber's feedback: keyframe requests go to the
// publisher (coalesced); NACKs are answered by pion's responder interceptor
// from its cache of what this DownTrack sent.
func (d *DownTrack) readRTCP() {
	for {
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
				d.sub.log().Debug("subscriber rtcp ended", "err", err)
			}
			return
		}
		d.handleRTCP(pkts)
	}
}

// handleRTCP acts on one compound packet of subscriber feedback. Every
// other packet type (reports, REMB, TWCC) is pion's interceptors' business.
func (d *DownTrack) handleRTCP(pkts []rtcp.Packet) {
	stats := d.track.owner.room.sfu.opts.stats
	for _, pkt := range pkts {
		switch pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			stats.PLIsReceived.Add(1)
			d.track.requestKeyframe(d.currentLayer())
		case *rtcp.TransportLayerNack:
			stats.NACKsReceived.Add(1)
		}
	}
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
	d.fwd.SetPaused(hidden)
	changed := d.hidden != hidden
	d.hidden = hidden
	d.mu.Unlock()
	if changed {
		d.sub.notify(SubscriptionPaused{TrackSID: d.track.sid, Paused: hidden})
	}
	d.reselect(d.track.layerInfos())
	d.track.poke() // resume a paused encoding now, not at the next tick
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
	if w == 0 && h == 0 {
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
	old, _ := d.fwd.Target()
	for i, info := range infos {
		if !info.Live {
			d.fwd.LayerStopped(i)
		}
	}
	if want >= 0 {
		d.fwd.SetTarget(want, -1)
	}
	d.mu.Unlock()
	if want >= 0 && want != old && want < len(infos) && infos[want].Live {
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

func (d *DownTrack) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
}
