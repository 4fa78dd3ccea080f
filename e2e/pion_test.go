package e2e

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Plain pion clients for the HTTP doors: no hibiki code on the client side,
// only what any WHIP/WHEP implementation would do.

// pionAPI builds a pion API with default codecs, the header extensions
// simulcast needs, default interceptors and ICE on loopback only (see
// shared/notes/testbed.md).
func pionAPI(t *testing.T) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.SDESMidURI}, kind); err != nil {
			t.Fatal(err)
		}
	}
	for _, uri := range []string{sdp.SDESRTPStreamIDURI, sdp.SDESRepairRTPStreamIDURI} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// extTrack is a TrackLocal that stamps the mid and rid header extensions
// on each packet, which an SFU needs to demultiplex simulcast (pion's
// static tracks write neither).
type extTrack struct {
	id, streamID, rid, mime string
	kind                    webrtc.RTPCodecType
	mid                     func() string

	mu            sync.Mutex
	writer        webrtc.TrackLocalWriter
	ssrc          uint32
	pt            uint8
	midID, ridID  uint8
	seq           uint16
	bound         bool
	midValue      []byte
	packets, keys int
}

func newExtTrack(mime, id, streamID, rid string) *extTrack {
	kind := webrtc.RTPCodecTypeVideo
	if strings.HasPrefix(mime, "audio/") {
		kind = webrtc.RTPCodecTypeAudio
	}
	return &extTrack{id: id, streamID: streamID, rid: rid, mime: mime, kind: kind}
}

func (x *extTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if !strings.EqualFold(c.MimeType, x.mime) {
			continue
		}
		x.mu.Lock()
		defer x.mu.Unlock()
		x.writer, x.ssrc, x.pt, x.bound = ctx.WriteStream(), uint32(ctx.SSRC()), uint8(c.PayloadType), true
		for _, e := range ctx.HeaderExtensions() {
			switch e.URI {
			case sdp.SDESMidURI:
				x.midID = uint8(e.ID)
			case sdp.SDESRTPStreamIDURI:
				x.ridID = uint8(e.ID)
			}
		}
		if x.mid != nil {
			x.midValue = []byte(x.mid())
		}
		return c, nil
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("%w: %s", webrtc.ErrUnsupportedCodec, x.mime)
}

func (x *extTrack) Unbind(webrtc.TrackLocalContext) error {
	x.mu.Lock()
	x.bound = false
	x.mu.Unlock()
	return nil
}

func (x *extTrack) ID() string                { return x.id }
func (x *extTrack) RID() string               { return x.rid }
func (x *extTrack) StreamID() string          { return x.streamID }
func (x *extTrack) Kind() webrtc.RTPCodecType { return x.kind }

// write sends the payloads of one frame with timestamp ts.
func (x *extTrack) write(payloads [][]byte, ts uint32) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.bound {
		return
	}
	for i, p := range payloads {
		h := rtp.Header{Version: 2, PayloadType: x.pt, SSRC: x.ssrc, SequenceNumber: x.seq, Timestamp: ts, Marker: i == len(payloads)-1}
		x.seq++
		if x.midID != 0 && len(x.midValue) > 0 {
			_ = h.SetExtension(x.midID, x.midValue)
		}
		if x.ridID != 0 && x.rid != "" {
			_ = h.SetExtension(x.ridID, []byte(x.rid))
		}
		if _, err := x.writer.WriteRTP(&h, p); err == nil {
			x.packets++
		}
	}
}

// onLoopback reports whether every selected candidate pair of pc is on
// loopback, as the test bed requires.
func onLoopback(pc *webrtc.PeerConnection) bool {
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return false
	}
	return net.ParseIP(pair.Local.Address).IsLoopback() && net.ParseIP(pair.Remote.Address).IsLoopback()
}

// token mints a join token with the development key the test server uses.
func token(t *testing.T, room, identity string, grants signaling.Grants) string {
	t.Helper()
	tok, err := signaling.NewToken(signaling.DevAPIKey, signaling.DevAPISecret, room, identity, identity, grants, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// httpBase is the server's http://host:port.
func (s *server) httpBase() string {
	return "http://" + strings.TrimSuffix(strings.TrimPrefix(s.url, "ws://"), "/ws")
}
