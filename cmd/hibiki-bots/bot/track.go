package bot

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// ErrCodecNotNegotiated is returned by Bind when the answer lacks the
// track's codec.
var ErrCodecNotNegotiated = errors.New("bot: codec not negotiated")

// binding is what a track learns when pion binds it to a sender: where to
// write and which ids the negotiated header extensions got.
type binding struct {
	writer     webrtc.TrackLocalWriter
	ssrc       uint32
	pt         uint8
	midID      uint8
	ridID      uint8
	audioLevel uint8
}

// rtpTrack is a webrtc.TrackLocal that writes packets the bot builds
// itself. Unlike TrackLocalStaticRTP it sees the negotiated header
// extension ids at Bind time, so it can put mid, rid and the RFC 6464 audio
// level on each packet.
type rtpTrack struct {
	id, streamID, rid string
	kind              webrtc.RTPCodecType
	codec             webrtc.RTPCodecCapability
	// mid reports the transceiver's mid; it is known by the time pion binds.
	mid func() string

	mu      sync.RWMutex
	bound   *binding
	midByte []byte
}

func newRTPTrack(codec webrtc.RTPCodecCapability, id, streamID, rid string) *rtpTrack {
	kind := webrtc.RTPCodecTypeVideo
	if strings.HasPrefix(codec.MimeType, "audio/") {
		kind = webrtc.RTPCodecTypeAudio
	}
	return &rtpTrack{id: id, streamID: streamID, rid: rid, kind: kind, codec: codec}
}

// Bind implements webrtc.TrackLocal.
func (t *rtpTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var codec *webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, t.codec.MimeType) {
			codec = &c
			break
		}
	}
	if codec == nil {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("%w: %s", ErrCodecNotNegotiated, t.codec.MimeType)
	}
	b := &binding{writer: ctx.WriteStream(), ssrc: uint32(ctx.SSRC()), pt: uint8(codec.PayloadType)}
	for _, e := range ctx.HeaderExtensions() {
		switch e.URI {
		case sdp.SDESMidURI:
			b.midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			b.ridID = uint8(e.ID)
		case AudioLevelURI:
			b.audioLevel = uint8(e.ID)
		}
	}
	var mid []byte
	if t.mid != nil {
		mid = []byte(t.mid())
	}
	t.mu.Lock()
	t.bound, t.midByte = b, mid
	t.mu.Unlock()
	return *codec, nil
}

// Unbind implements webrtc.TrackLocal.
func (t *rtpTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.bound = nil
	t.mu.Unlock()
	return nil
}

// ID implements webrtc.TrackLocal.
func (t *rtpTrack) ID() string { return t.id }

// RID implements webrtc.TrackLocal.
func (t *rtpTrack) RID() string { return t.rid }

// StreamID implements webrtc.TrackLocal.
func (t *rtpTrack) StreamID() string { return t.streamID }

// Kind implements webrtc.TrackLocal.
func (t *rtpTrack) Kind() webrtc.RTPCodecType { return t.kind }

// audioLevelNone marks a packet without an audio level extension.
const audioLevelNone = -1

// write sends one packet: the caller fills sequence number, timestamp and
// marker; write adds payload type, SSRC and the header extensions. level is
// the RFC 6464 byte (V bit and -dBov) or audioLevelNone. It returns false
// when the track is not bound (not negotiated yet, or removed).
func (t *rtpTrack) write(h *rtp.Header, payload []byte, level int) (bool, error) {
	t.mu.RLock()
	b, mid := t.bound, t.midByte
	t.mu.RUnlock()
	if b == nil {
		return false, nil
	}
	h.Version = 2
	h.PayloadType = b.pt
	h.SSRC = b.ssrc
	h.Extension, h.Extensions = false, h.Extensions[:0]
	if b.midID != 0 && len(mid) > 0 {
		if err := h.SetExtension(b.midID, mid); err != nil {
			return false, fmt.Errorf("set mid extension: %w", err)
		}
	}
	if b.ridID != 0 && t.rid != "" {
		if err := h.SetExtension(b.ridID, []byte(t.rid)); err != nil {
			return false, fmt.Errorf("set rid extension: %w", err)
		}
	}
	if b.audioLevel != 0 && level != audioLevelNone {
		if err := h.SetExtension(b.audioLevel, []byte{byte(level)}); err != nil {
			return false, fmt.Errorf("set audio level extension: %w", err)
		}
	}
	if _, err := b.writer.WriteRTP(h, payload); err != nil {
		return true, fmt.Errorf("write rtp: %w", err)
	}
	return true, nil
}
