package sfu

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// receiver reads one layer of a published track. It parses each packet once
// (header, VP8 descriptor, keyframe flag) and hands the same read-only
// Packet to every subscriber's DownTrack in turn; nothing is copied or
// allocated per packet, and the buffer is reused once all have written.
type receiver struct {
	track  *PublishedTrack
	layer  int
	remote *webrtc.TrackRemote
	rtpRx  *webrtc.RTPReceiver
	ssrc   uint32
	// cache keeps the layer's recent packets for subscribers' NACKs; nil
	// for audio, which is not retransmitted.
	cache *packetCache
	// levelID is the publisher's audio-level extension id, 0 if none.
	levelID uint8

	lastNanos atomic.Int64
	bytes     atomic.Uint64
	packets   atomic.Uint64
	width     atomic.Int32
	height    atomic.Int32
	temporal  atomic.Int32 // highest VP8 TID seen + 1
	// rate is the layer's bitrate over the last rateWindow ticks with
	// traffic (tickBits, a ring), touched only by the track's monitor.
	rate      int
	rateTicks int
	tickBits  [rateWindow]int
	// live mirrors the monitor's view; a packet on a layer believed dead
	// wakes the monitor so subscribers waiting for it switch at once.
	live atomic.Bool
}

func newReceiver(t *PublishedTrack, layer int, remote *webrtc.TrackRemote, rx *webrtc.RTPReceiver) *receiver {
	r := &receiver{track: t, layer: layer, remote: remote, rtpRx: rx, ssrc: uint32(remote.SSRC())}
	if t.kind == KindAudio {
		for _, e := range rx.GetParameters().HeaderExtensions {
			if e.URI == AudioLevelURI {
				r.levelID = uint8(e.ID)
			}
		}
	}
	r.lastNanos.Store(time.Now().UnixNano())
	r.live.Store(true)
	if t.kind == KindVideo {
		r.cache = &packetCache{}
	}
	return r
}

func (r *receiver) size() (int, int) {
	return int(r.width.Load()), int(r.height.Load())
}

// run is the layer's read loop; it ends when the publisher's track ends.
func (r *receiver) run() {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	p := Packet{Layer: r.layer}
	stats := r.track.owner.room.sfu.opts.stats
	for {
		n, _, err := r.remote.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.track.logger.Debug("layer read ended", "layer", r.layer, "err", err)
			}
			return
		}
		if !parseRTP(buf[:n], &pkt) {
			continue // a malformed packet is dropped, never forwarded
		}
		if r.cache != nil {
			r.cache.store(pkt.SequenceNumber, buf[:n])
		}
		now := time.Now().UnixNano()
		r.lastNanos.Store(now)
		r.bytes.Add(uint64(n))
		r.packets.Add(1)
		stats.PacketsIn.Add(1)
		stats.BytesIn.Add(uint64(n))
		if !r.live.Load() {
			r.live.Store(true)
			r.track.poke()
		}

		p.Header = &pkt.Header
		p.Payload = pkt.Payload
		p.ArrivalNanos = now
		r.classify(&p)
		for _, d := range *r.track.downs.Load() {
			d.WriteRTP(&p)
		}
		for _, o := range *r.track.relays.Load() {
			o.write(&p)
		}
	}
}

// parseRTP parses one packet from the publisher; false means drop it.
// pion's Unmarshal accepts any version field, and a header is copied to
// every subscriber, so a version other than 2 is refused here.
func parseRTP(buf []byte, pkt *rtp.Packet) bool {
	return pkt.Unmarshal(buf) == nil && pkt.Version == 2
}

// classify fills the codec-specific fields of p.
func (r *receiver) classify(p *Packet) {
	p.Keyframe = false
	p.HasVP8 = false
	p.HasAudioLevel = false
	if r.levelID != 0 {
		if ext := p.Header.GetExtension(r.levelID); len(ext) == 1 {
			p.AudioLevel, p.HasAudioLevel = ext[0], true
		}
		return
	}
	switch {
	case r.track.vp8:
		if len(p.Payload) == 0 || ParseVP8(p.Payload, &p.VP8) != nil {
			return
		}
		p.HasVP8 = true
		p.Keyframe = p.VP8.IsKeyframe
		if p.VP8.HasTID && int32(p.VP8.TID) >= r.temporal.Load() {
			r.temporal.Store(int32(p.VP8.TID) + 1)
		}
		if p.Keyframe && p.VP8.Width > 0 {
			r.width.Store(int32(p.VP8.Width))
			r.height.Store(int32(p.VP8.Height))
		}
	case r.track.h264:
		p.Keyframe = H264IsKeyframe(p.Payload)
	}
}

// drainRTCP reads the publisher's RTCP for this layer so pion's interceptors
// (receiver reports, NACK generation) see it and its buffers never fill.
func (r *receiver) drainRTCP() {
	for {
		var err error
		if rid := r.remote.RID(); rid != "" {
			_, _, err = r.rtpRx.ReadSimulcastRTCP(rid)
		} else {
			_, _, err = r.rtpRx.ReadRTCP()
		}
		if err != nil {
			return
		}
	}
}
