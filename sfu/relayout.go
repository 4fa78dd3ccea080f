package sfu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// RelayDialer delivers a relay offer to another node and returns that
// node's answer; the caller (the cascade coordinator) knows how to reach it.
type RelayDialer func(ctx context.Context, node string, offer RelayOffer) (answer string, err error)

// relayOpenTimeout bounds the opening of one relay: gathering, the other
// node's answer and the wait for its DTLS.
const relayOpenTimeout = 10 * time.Second

// Relay makes sure the local track sid is relayed to node, opening the
// relay in the background when there is none. A relay that fails or closes
// is forgotten, so calling Relay again opens a new one.
func (r *Room) Relay(sid, node string, dial RelayDialer) error {
	t := r.findTrack(sid)
	if t == nil {
		return ErrTrackNotFound
	}
	if t.owner.origin != "" {
		return fmt.Errorf("relay %s: %w", sid, ErrNotRemote)
	}
	t.relayTo(node, dial)
	return nil
}

// StopRelays closes the relays of the room's tracks to every node not in
// keep (they left the room).
func (r *Room) StopRelays(keep []string) {
	for _, p := range r.Local() {
		for _, t := range p.announcedTracks() {
			for _, o := range t.relayList() {
				if !slices.Contains(keep, o.node) {
					t.removeRelay(o)
				}
			}
		}
	}
}

// relayOut carries one published track, every simulcast layer of it, to
// one other node: the sending half of a relay. The publisher's packets go
// out unchanged but for SSRC, payload type and header extensions, so their
// sequence numbers stay the publisher's and a NACK from the other node is
// answered straight from the layer's packet cache.
type relayOut struct {
	track  *PublishedTrack
	node   string
	layers []*relayLayer     // by spatial layer index; nil where none
	sender *webrtc.RTPSender // set by open before the RTCP readers start
	// need is the layers the other node wants (relayneed.go), 0 until
	// it has said.
	need atomic.Uint32

	mu     sync.Mutex
	pc     *webrtc.PeerConnection
	closed bool
}

// relayLayers returns the RID of each layer the relay must carry: the
// announced encodings, else those arriving, else one unnamed stream.
func (t *PublishedTrack) relayLayers() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.spec) > 1 {
		rids := make([]string, len(t.spec))
		for i, l := range t.spec {
			rids[i] = l.RID
		}
		return rids
	}
	var rids []string
	for _, r := range t.receivers {
		if r != nil && r.remote.RID() != "" {
			rids = append(rids, r.remote.RID())
		}
	}
	if len(rids) < 2 {
		return []string{""}
	}
	return rids
}

func (t *PublishedTrack) relayList() []*relayOut { return *t.relays.Load() }

// relayTo opens a relay to node unless one is open or opening.
func (t *PublishedTrack) relayTo(node string, dial RelayDialer) {
	rids := t.relayLayers()
	o := &relayOut{track: t, node: node, layers: make([]*relayLayer, MaxSpatialLayers)}
	for _, rid := range rids {
		idx := 0
		if len(rids) > 1 {
			idx = layerIndex(rid, t.spec)
		}
		o.layers[idx] = &relayLayer{out: o, rid: rid, layer: idx}
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	for _, x := range *t.relays.Load() {
		if x.node == node {
			t.mu.Unlock()
			return
		}
	}
	cowAdd(&t.relays, o)
	t.mu.Unlock()
	t.poke() // every layer is needed now
	s := t.owner.room.sfu
	s.opts.stats.RelaysOut.Add(1)
	s.goroutine(func() {
		ctx, cancel := context.WithTimeout(s.ctx, relayOpenTimeout)
		defer cancel()
		if err := o.open(ctx, rids, dial); err != nil {
			t.logger.Info("relay not opened", "node", node, "err", err)
			t.removeRelay(o)
		}
	})
}

// removeRelay stops and forgets o.
func (t *PublishedTrack) removeRelay(o *relayOut) {
	t.mu.Lock()
	cowRemove(&t.relays, o)
	t.mu.Unlock()
	o.close()
}

// open negotiates the relay with the other node.
func (o *relayOut) open(ctx context.Context, rids []string, dial RelayDialer) error {
	t := o.track
	s := t.owner.room.sfu
	api, err := s.transport.newAPI(roleSubscribe, apiOptions{})
	if err != nil {
		return err
	}
	pc, err := api.NewPeerConnection(s.transport.pcConfig())
	if err != nil {
		return fmt.Errorf("relay connection: %w", err)
	}
	o.mu.Lock()
	closed := o.closed
	if !closed {
		o.pc = pc
	}
	o.mu.Unlock()
	if closed {
		_ = pc.Close()
		return ErrClosed
	}
	var first *relayLayer
	for _, l := range o.layers {
		if l == nil {
			continue
		}
		if first == nil {
			first = l
			tr, err := pc.AddTransceiverFromTrack(l, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
			if err != nil {
				return fmt.Errorf("relay transceiver: %w", err)
			}
			o.sender = tr.Sender()
			first.tr = tr
			continue
		}
		l.tr = first.tr
		if err := o.sender.AddEncoding(l); err != nil {
			return fmt.Errorf("relay encoding %s: %w", l.rid, err)
		}
	}
	connected := make(chan struct{})
	var connOnce sync.Once
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			connOnce.Do(func() { close(connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			t.removeRelay(o)
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("relay offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("relay offer: %w", err)
	}
	if err := waitGathered(ctx, gathered); err != nil {
		return err
	}
	answer, err := dial(ctx, o.node, RelayOffer{Room: t.owner.room.name, Participant: t.owner.Info(), Track: t.Info(), SDP: pc.LocalDescription().SDP})
	if err != nil {
		return fmt.Errorf("relay to %s: %w", o.node, err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("%w: relay answer: %w", ErrBadSDP, err)
	}
	for _, l := range o.layers {
		if l != nil {
			s.goroutine(func() { l.readRTCP(o.sender) })
		}
	}
	select {
	case <-connected:
	case <-ctx.Done():
		return fmt.Errorf("relay to %s: not connected: %w", o.node, ctx.Err())
	}
	// The other node's subscribers asked for keyframes before the relay
	// could carry them; ask once more now that it can.
	for i, l := range o.layers {
		if l != nil {
			t.requestKeyframe(i)
		}
	}
	t.logger.Debug("relay open", "node", o.node, "layers", len(rids))
	return nil
}

// close ends the relay; a relay still opening closes its connection as
// soon as it has one.
func (o *relayOut) close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	pc := o.pc
	o.mu.Unlock()
	o.track.owner.room.sfu.opts.stats.RelaysOut.Add(-1)
	if pc != nil {
		if err := pc.Close(); err != nil {
			o.track.logger.Debug("close relay", "node", o.node, "err", err)
		}
	}
}

// write sends one packet of the publisher on its layer's relay stream.
func (o *relayOut) write(p *Packet) {
	if p.Layer < 0 || p.Layer >= len(o.layers) || !o.needs(p.Layer) {
		return
	}
	if l := o.layers[p.Layer]; l != nil {
		l.write(p.Header, p.Payload, p.HasAudioLevel, p.AudioLevel)
	}
}

// relayLayer is one encoding of a relay: a pion TrackLocal that writes the
// publisher's packets with the relay's SSRC, payload type, mid, rid and
// audio level, into buffers it reuses.
type relayLayer struct {
	out   *relayOut
	rid   string
	layer int
	tr    *webrtc.RTPTransceiver

	mu      sync.Mutex
	writer  webrtc.TrackLocalWriter
	ssrc    uint32
	pt      uint8
	midID   uint8
	ridID   uint8
	levelID uint8
	mid     []byte
	ridB    []byte
	level   [1]byte
	hdr     rtp.Header
	exts    []rtp.Extension
	// rtx is the scratch of a resend, allocated at the first NACK.
	rtx *resendScratch
}

// ID is the track's SID: the receiving node recognises the track by it.
func (l *relayLayer) ID() string { return l.out.track.sid }

// RID names the encoding, as the publisher did.
func (l *relayLayer) RID() string { return l.rid }

// StreamID is the publisher's SID.
func (l *relayLayer) StreamID() string { return l.out.track.owner.sid }

// Kind returns the pion codec type.
func (l *relayLayer) Kind() webrtc.RTPCodecType {
	if l.out.track.kind == KindVideo {
		return webrtc.RTPCodecTypeVideo
	}
	return webrtc.RTPCodecTypeAudio
}

// Bind takes the publisher's codec and the negotiated extension ids.
func (l *relayLayer) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	want := l.out.track.codec
	var pick *webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, want.MimeType) && (pick == nil || c.SDPFmtpLine == want.SDPFmtpLine) {
			c := c
			pick = &c
		}
	}
	if pick == nil {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("%w: relay cannot carry %s", webrtc.ErrUnsupportedCodec, want.MimeType)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writer, l.ssrc, l.pt = ctx.WriteStream(), uint32(ctx.SSRC()), uint8(pick.PayloadType)
	for _, e := range ctx.HeaderExtensions() {
		switch e.URI {
		case sdp.SDESMidURI:
			l.midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			l.ridID = uint8(e.ID)
		case AudioLevelURI:
			l.levelID = uint8(e.ID)
		}
	}
	if l.tr != nil {
		l.mid = []byte(l.tr.Mid())
	}
	l.ridB = []byte(l.rid)
	return *pick, nil
}

// Unbind stops writing.
func (l *relayLayer) Unbind(webrtc.TrackLocalContext) error {
	l.mu.Lock()
	l.writer = nil
	l.mu.Unlock()
	return nil
}

// write sends one packet; h and payload are the publisher's, read only.
func (l *relayLayer) write(h *rtp.Header, payload []byte, hasLevel bool, level uint8) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.writer == nil {
		return
	}
	hdr := &l.hdr
	exts := l.exts[:0]
	*hdr = *h
	hdr.SSRC, hdr.PayloadType = l.ssrc, l.pt
	hdr.Padding, hdr.PaddingSize = false, 0
	hdr.Extension, hdr.ExtensionProfile, hdr.Extensions = false, 0, exts
	if l.midID != 0 && len(l.mid) > 0 {
		_ = hdr.SetExtension(l.midID, l.mid)
	}
	if l.ridID != 0 && len(l.ridB) > 0 {
		_ = hdr.SetExtension(l.ridID, l.ridB)
	}
	if hasLevel && l.levelID != 0 {
		l.level[0] = level
		_ = hdr.SetExtension(l.levelID, l.level[:])
	}
	l.exts = hdr.Extensions // keep the grown capacity: no allocation next time
	stats := l.out.track.owner.room.sfu.opts.stats
	if _, err := l.writer.WriteRTP(hdr, payload); err != nil {
		stats.WriteErrors.Add(1)
		return
	}
	stats.RelayPacketsOut.Add(1)
	stats.RelayBytesOut.Add(uint64(len(payload) + 12))
}

// readRTCP handles the other node's feedback on this encoding: keyframe
// requests go to the publisher, NACKs are answered from the layer cache.
func (l *relayLayer) readRTCP(sender *webrtc.RTPSender) {
	t := l.out.track
	for {
		var pkts []rtcp.Packet
		var err error
		if l.rid != "" {
			pkts, _, err = sender.ReadSimulcastRTCP(l.rid)
		} else {
			pkts, _, err = sender.ReadRTCP()
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
				t.logger.Debug("relay rtcp ended", "node", l.out.node, "err", err)
			}
			return
		}
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				t.requestKeyframe(l.layer)
			case *rtcp.ApplicationDefined:
				l.out.heardNeed(pkt)
			case *rtcp.TransportLayerNack:
				for _, pair := range pkt.Nacks {
					pair.Range(func(seq uint16) bool {
						l.resend(seq)
						return true
					})
				}
			}
		}
	}
}

// resend writes the cached packet seq again, unchanged but for the relay's
// own header fields.
func (l *relayLayer) resend(seq uint16) {
	cache := l.out.track.cache(l.layer)
	if cache == nil {
		return
	}
	l.mu.Lock()
	if l.rtx == nil {
		l.rtx = &resendScratch{}
	}
	x := l.rtx
	n, ok := cache.get(seq, x.raw[:])
	ok = ok && x.pkt.Unmarshal(x.raw[:n]) == nil
	l.mu.Unlock()
	if !ok {
		return
	}
	l.out.track.owner.room.sfu.opts.stats.PacketsResent.Add(1)
	l.write(&x.pkt.Header, x.pkt.Payload, false, 0)
}
