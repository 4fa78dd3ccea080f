package sfu

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// layerTimeout is how long a layer may be silent before subscribers fall
// back to a live one (a publisher whose uplink cannot carry its top layer).
const layerTimeout = 700 * time.Millisecond

// monitorInterval is how often layer liveness and bitrates are refreshed.
const monitorInterval = 100 * time.Millisecond

// rateWarmup is how many monitor ticks a layer's bitrate average needs
// before it is reported.
const rateWarmup = 4

// rateWindow is how many monitor ticks (1 s) a layer's bitrate spans. The
// allocator prices layers with it: a short average jumps at every keyframe
// (a tenth of a second holding a 30 KB keyframe reads as 2.4 Mbit/s), and
// the allocation would flip between layers on it.
const rateWindow = 10

// PublishedTrack is one source (microphone, camera, screen) of a publisher
// with up to three simulcast layers, and the list of its subscribers.
type PublishedTrack struct {
	owner  *Participant
	sid    string
	cid    string
	kind   Kind
	source string
	name   string
	codec  webrtc.RTPCodecParameters
	spec   []LayerSpec
	logger *slog.Logger
	vp8    bool
	h264   bool

	// downs is the fan-out list, replaced (never mutated) under mu so the
	// packet path reads it without a lock shared by all subscribers.
	downs atomic.Pointer[[]*DownTrack]
	// relays carry the track to the other nodes of a spanning room
	// (relayout.go); replaced, never mutated, under mu like downs.
	relays atomic.Pointer[[]*relayOut]

	mu        sync.Mutex
	receivers [MaxSpatialLayers]*receiver
	infos     [MaxSpatialLayers]LayerInfo
	muted     bool
	closed    bool
	kf        KeyframeThrottle
	active    []bool // layers last requested from the publisher
	// needSent is when the layers needed here were last sent to the node
	// relaying a remote participant's track; only the monitor touches it.
	needSent time.Time
	done     chan struct{}
	// wake makes the monitor re-evaluate at once instead of at its next
	// tick: a layer came back, or a subscriber wants another size.
	wake chan struct{}
}

func newPublishedTrack(p *Participant, sid string, req TrackRequest, codec webrtc.RTPCodecParameters) *PublishedTrack {
	mime := strings.ToLower(codec.MimeType)
	t := &PublishedTrack{
		owner:  p,
		sid:    sid,
		cid:    req.ClientID,
		kind:   req.Kind,
		source: req.Source,
		name:   req.Name,
		codec:  codec,
		spec:   req.Layers,
		muted:  req.Muted,
		logger: p.logger.With("track", sid),
		vp8:    mime == "video/vp8",
		h264:   mime == "video/h264",
		done:   make(chan struct{}),
		wake:   make(chan struct{}, 1),
	}
	t.downs.Store(&[]*DownTrack{})
	t.relays.Store(&[]*relayOut{})
	// Audio runs the monitor too: its measured bitrate is what the
	// bandwidth allocator reserves for it.
	p.room.sfu.goroutine(t.monitor)
	return t
}

// SID returns the track's server-assigned id.
func (t *PublishedTrack) SID() string { return t.sid }

// Kind returns audio or video.
func (t *PublishedTrack) Kind() Kind { return t.kind }

// Owner returns the publishing participant.
func (t *PublishedTrack) Owner() *Participant { return t.owner }

// Info returns the public view of the track.
func (t *PublishedTrack) Info() TrackInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	info := TrackInfo{
		SID: t.sid, ClientID: t.cid, Kind: t.kind, Source: t.source, Name: t.name,
		Muted: t.muted, MimeType: t.codec.MimeType, Layers: t.spec,
	}
	n := 0
	for i, r := range t.receivers {
		if r != nil {
			n++
			if t.infos[i].Width > info.Width {
				info.Width, info.Height = t.infos[i].Width, t.infos[i].Height
			}
		}
	}
	info.Simulcast = n > 1 || len(t.spec) > 1
	return info
}

func (t *PublishedTrack) isAnnounced() bool { return true }

// addLayer starts reading one arriving layer.
func (t *PublishedTrack) addLayer(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	idx := layerIndex(remote.RID(), t.spec)
	r := newReceiver(t, idx, remote, recv)
	t.mu.Lock()
	if t.closed || t.receivers[idx] != nil {
		t.mu.Unlock()
		t.logger.Warn("duplicate or late layer ignored", "rid", remote.RID())
		return
	}
	t.receivers[idx] = r
	t.infos[idx].Live = true
	t.mu.Unlock()
	s := t.owner.room.sfu
	s.goroutine(r.run)
	s.goroutine(r.drainRTCP)
	t.reselectAll()
}

// cache returns the packet cache of a layer, nil when it has none.
func (t *PublishedTrack) cache(layer int) *packetCache {
	if layer < 0 || layer >= MaxSpatialLayers {
		return nil
	}
	t.mu.Lock()
	r := t.receivers[layer]
	t.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.cache
}

// publishedLayers reports which layers the publisher sends at all (even if
// an encoding is paused right now).
func (t *PublishedTrack) publishedLayers() [MaxSpatialLayers]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out [MaxSpatialLayers]bool
	for i, r := range t.receivers {
		out[i] = r != nil
	}
	return out
}

// audioBitrate is the measured bitrate of an audio track (0: unknown).
func (t *PublishedTrack) audioBitrate() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.infos[0].BitrateBps
}

// layerInfos returns a snapshot of what is known about each layer.
func (t *PublishedTrack) layerInfos() []LayerInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]LayerInfo, MaxSpatialLayers)
	copy(out, t.infos[:])
	return out
}

func (t *PublishedTrack) addDownTrack(d *DownTrack) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	cowAdd(&t.downs, d)
	muted := t.muted
	t.mu.Unlock()
	d.setMuted(muted)
	d.reselect(t.layerInfos())
}

// removeDownTrack stops forwarding to d and removes it from its subscriber.
func (t *PublishedTrack) removeDownTrack(d *DownTrack) {
	t.mu.Lock()
	cowRemove(&t.downs, d)
	t.mu.Unlock()
	d.close()
	d.sub.dropSubscription(d)
}

// setMuted reports whether the state changed.
func (t *PublishedTrack) setMuted(muted bool) bool {
	t.mu.Lock()
	if t.muted == muted {
		t.mu.Unlock()
		return false
	}
	t.muted = muted
	t.mu.Unlock()
	for _, d := range *t.downs.Load() {
		d.setMuted(muted)
	}
	return true
}

// requestKeyframe asks the publisher for a keyframe on one layer, coalescing
// the requests of all subscribers through the throttle.
func (t *PublishedTrack) requestKeyframe(layer int) {
	if t.kind != KindVideo || layer < 0 || layer >= MaxSpatialLayers {
		return
	}
	t.mu.Lock()
	r := t.receivers[layer]
	ok := r != nil && !t.closed && t.kf.Allow(layer, time.Now())
	t.mu.Unlock()
	if !ok {
		return
	}
	t.owner.room.sfu.opts.stats.KeyframeReqs.Add(1)
	pli := &rtcp.PictureLossIndication{MediaSSRC: r.ssrc}
	pub := t.owner.feedPC(t.sid)
	if pub == nil {
		return
	}
	if err := pub.WriteRTCP([]rtcp.Packet{pli}); err != nil {
		t.logger.Debug("send PLI", "err", err)
	}
}

// close ends the track's subscriptions and stops its monitor.
func (t *PublishedTrack) close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	close(t.done)
	downs := *t.downs.Load()
	t.downs.Store(&[]*DownTrack{})
	relays := *t.relays.Load()
	t.relays.Store(&[]*relayOut{})
	t.mu.Unlock()
	for _, d := range downs {
		d.close()
		d.sub.dropSubscription(d)
	}
	for _, o := range relays {
		o.close()
	}
}

// monitor refreshes layer liveness and bitrate, and re-selects layers when
// one stops or comes back.
func (t *PublishedTrack) monitor() {
	tick := time.NewTicker(monitorInterval)
	defer tick.Stop()
	var lastBytes [MaxSpatialLayers]uint64
	for {
		select {
		case <-t.done:
			return
		case <-t.owner.room.sfu.ctx.Done():
			return
		case now := <-tick.C:
			if t.refreshLayers(now, &lastBytes, true) {
				t.reselectAll()
			}
			t.updateActiveLayers()
		case <-t.wake:
			if t.refreshLayers(time.Now(), &lastBytes, false) {
				t.reselectAll()
			}
			t.updateActiveLayers()
		}
	}
}

// poke asks the monitor to re-evaluate now; it never blocks.
func (t *PublishedTrack) poke() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// refreshLayers updates liveness (and, on ticks, bitrates) and reports
// whether liveness changed.
func (t *PublishedTrack) refreshLayers(now time.Time, lastBytes *[MaxSpatialLayers]uint64, tick bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := false
	for i, r := range t.receivers {
		if r == nil {
			continue
		}
		info := &t.infos[i]
		if tick {
			b := r.bytes.Load()
			rate := int(float64(b-lastBytes[i]) * 8 / monitorInterval.Seconds())
			lastBytes[i] = b
			if rate > 0 {
				// A paused encoding keeps its last rate: it is what
				// resuming it would cost.
				r.tickBits[r.rateTicks%rateWindow] = rate
				r.rateTicks++
				n := min(r.rateTicks, rateWindow)
				sum := 0
				for _, v := range r.tickBits[:n] {
					sum += v
				}
				r.rate = sum / n
			}
			// Until the average has seen a second of the layer it is an
			// underestimate; the allocator would take an expensive layer
			// for a cheap one. Unknown (0) makes it assume a nominal rate.
			if r.rateTicks >= rateWarmup {
				info.BitrateBps = r.rate
			}
		}
		if w, h := r.size(); w > 0 {
			info.Width, info.Height = w, h
		}
		info.Temporal = int(r.temporal.Load())
		live := now.UnixNano()-r.lastNanos.Load() < int64(layerTimeout)
		r.live.Store(live)
		if live != info.Live {
			info.Live = live
			changed = true
			t.logger.Debug("layer liveness", "layer", i, "live", live)
		}
	}
	return changed
}

func (t *PublishedTrack) reselectAll() {
	infos := t.layerInfos()
	for _, d := range *t.downs.Load() {
		d.reselect(infos)
	}
}

// updateActiveLayers tells a simulcast publisher which encodings anyone
// needs, so it can stop encoding the others. The lowest layer always stays
// on: a new subscriber can then start at once. When every subscriber
// receives the track directly (a peer-to-peer pair), every layer is off,
// for single-encoding video too; such a track is otherwise never told.
func (t *PublishedTrack) updateActiveLayers() {
	downs := *t.downs.Load()
	relayed := len(*t.relays.Load()) > 0
	direct := len(downs) > 0 && !relayed
	for _, d := range downs {
		direct = direct && d.direct.Load()
	}
	t.mu.Lock()
	n := 0
	for _, r := range t.receivers {
		if r != nil {
			n++
		}
	}
	simulcast := n >= 2 || len(t.spec) >= 2
	t.mu.Unlock()
	var active []bool
	switch {
	case direct:
		active = make([]bool, MaxSpatialLayers)
	case !simulcast:
		active = []bool{true, true, true}
	default:
		active = t.neededLayers(downs)
		// And what the other nodes' subscribers need (relayneed.go).
		for _, o := range *t.relays.Load() {
			for i := range active {
				active[i] = active[i] || o.needs(i)
			}
		}
	}
	t.mu.Lock()
	same := slices.Equal(t.active, active) || (t.active == nil && !simulcast && !direct)
	t.active = active
	t.mu.Unlock()
	if t.owner.origin != "" {
		if simulcast {
			t.tellRelayNeed(active, !same, time.Now())
		}
		return
	}
	if !same {
		t.owner.notify(LayersChanged{TrackSID: t.sid, Active: active})
	}
}

// neededLayers is which simulcast layers the subscribers need.
func (t *PublishedTrack) neededLayers(downs []*DownTrack) []bool {
	active := make([]bool, MaxSpatialLayers)
	active[0] = true
	infos := t.layerInfos()
	for _, d := range downs {
		if l := d.desiredLayer(); l >= 0 && l < MaxSpatialLayers {
			active[l] = true
			// A wanted layer that is not arriving (paused a moment ago, or
			// the publisher's uplink cannot carry it): keep the one below
			// it coming too, so the subscriber falls back to the best
			// layer that can flow instead of the lowest.
			if !infos[l].Live && l > 0 {
				active[l-1] = true
			}
		}
		// Keep what is being forwarded until the switch away from it has
		// happened, or the subscriber freezes waiting for the new layer.
		if l := d.forwardedLayer(); l >= 0 && l < MaxSpatialLayers {
			active[l] = true
		}
		// The layer the bandwidth allows, when lower than the tile wants.
		if l := d.allocatedLayer(); l >= 0 && l < MaxSpatialLayers {
			active[l] = true
		}
	}
	return active
}
