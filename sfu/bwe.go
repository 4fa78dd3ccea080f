package sfu

import (
	"github.com/hibiki-sfu/hibiki/bwe"
	"github.com/pion/rtp"
)

// DownTrack is the allocator's view of a subscription.
var _ bwe.Subscription = (*DownTrack)(nil)

// paddingSize is the padding of one probe packet: the RTP maximum, so a
// probe needs as few packets as the padding-only format allows.
const paddingSize = 255

// maxPaddingBurst bounds the padding packets sent after one frame: 48 x
// 267 bytes after each of 30 frames a second is 3 Mbit/s of probe.
const maxPaddingBurst = 48

// sourceScreen is the signaling source name of a screen share.
const sourceScreen = "screen"

// Info implements bwe.Subscription.
func (d *DownTrack) Info() bwe.SubscriptionInfo {
	t := d.track
	info := bwe.SubscriptionInfo{
		TrackID: t.sid, PublisherID: t.owner.sid,
		Audio: t.kind != KindVideo, Screen: t.source == sourceScreen,
	}
	layers := t.layerInfos()
	d.mu.Lock()
	info.Width, info.Height = d.wanted()
	info.MaxLayer = d.maxLayer
	// A track received over a direct (P2P) connection costs the SFU path
	// nothing: the allocator leaves it alone like a hidden tile.
	info.Hidden = d.hidden || d.direct.Load()
	d.mu.Unlock()
	if info.Audio {
		info.Layers = []bwe.Layer{{BitrateBps: t.audioBitrate(), Live: true}}
		return info
	}
	// A layer the publisher paused because nobody needed it is still a
	// choice: picking it resumes the encoding (updateActiveLayers), and the
	// forwarder stays on a live layer below until it arrives.
	published := t.publishedLayers()
	info.Layers = make([]bwe.Layer, len(layers))
	for i := range layers {
		w, h := layers[i].size(i)
		info.Layers[i] = bwe.Layer{
			Width: w, Height: h, BitrateBps: layers[i].BitrateBps,
			Live: layers[i].Live || published[i], Temporal: layers[i].Temporal,
		}
	}
	return info
}

// allocatedLayer is the spatial layer the allocator allows, -1 when it has
// not decided or paused the track.
func (d *DownTrack) allocatedLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bwPaused {
		return -1
	}
	return d.allocLayer
}

// SetTarget implements bwe.Subscription: the allocator's ceiling on the
// spatial layer and its temporal target, or a pause (spatial < 0), which
// the subscriber hears about in a SubscriptionPaused event.
func (d *DownTrack) SetTarget(t bwe.Target) {
	if d.track.kind != KindVideo {
		return
	}
	spatial := t.Spatial
	d.mu.Lock()
	was := d.bwPaused
	d.bwPaused = spatial < 0
	if spatial >= 0 {
		d.allocLayer, d.allocTemporal = spatial, t.Temporal
		d.dropNow, d.dropHold = t.Immediate, t.Hold
	}
	d.fwd.SetPaused(d.hidden || d.bwPaused || d.direct.Load())
	hidden := d.hidden
	d.mu.Unlock()
	if was != (spatial < 0) && !hidden {
		d.sub.notify(SubscriptionPaused{TrackSID: d.track.sid, Paused: spatial < 0})
	}
	if spatial >= 0 {
		d.reselect(d.track.layerInfos()) // applies dropNow
		d.track.poke()                   // resume the encoding it needs now
	}
}

// WritePadding implements bwe.Subscription: padding-only packets on the
// track's own SSRC, numbered in its sequence, sent only right after a
// complete frame (see Forwarder.Padding). Without RTX negotiated this is
// the only stream a receiver accepts padding on.
func (d *DownTrack) WritePadding(bytes int) int {
	if d.track.kind != KindVideo || bytes <= 0 || !d.sub.mediaReady() {
		return 0
	}
	d.mu.Lock()
	hidden := d.hidden || d.direct.Load()
	d.mu.Unlock()
	if hidden {
		return 0 // a hidden tile's (or direct track's) stream stays silent
	}
	n := min((bytes+paddingSize-1)/paddingSize, maxPaddingBurst)
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.bound || d.closed {
		return 0
	}
	seq, ts, ok := d.fwd.Padding(n)
	if !ok {
		return 0
	}
	h := &d.pad
	*h = rtp.Header{
		Version: 2, Padding: true, PaddingSize: paddingSize,
		PayloadType: d.pt, SSRC: d.ssrc, Timestamp: ts, Extensions: h.Extensions[:0],
	}
	sent := 0
	for i := range n {
		h.SequenceNumber = seq + uint16(i)
		h.Extension, h.Extensions = false, h.Extensions[:0]
		if _, err := d.writer.WriteRTP(h, nil); err != nil {
			break
		}
		sent += paddingSize + 12
	}
	return sent
}
