package bot

import (
	"fmt"
	"github.com/pion/interceptor/pkg/nack"
	"net"
	"net/netip"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// AudioLevelURI is the RFC 6464 client-to-mixer audio level extension the
// bot writes on every audio packet.
const AudioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// Payload types the bot offers. They match the ones browsers and pion's
// defaults use, which keeps SDP diffs readable.
const (
	ptVP8  = 96
	ptOpus = 111
)

// newAPI builds the pion API for one bot: VP8 and Opus only, the header
// extensions simulcast and audio levels need, pion's default interceptors
// (NACK, RTCP reports, TWCC), and ICE kept on loopback unless cfg admits more.
func newAPI(cfg Config) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	videoFB := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"},
		{Type: "nack"}, {Type: "nack", Parameter: "pli"},
	}
	codecs := []struct {
		params webrtc.RTPCodecParameters
		kind   webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFB},
			PayloadType:        ptVP8,
		}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
			PayloadType:        ptOpus,
		}, webrtc.RTPCodecTypeAudio},
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.params, c.kind); err != nil {
			return nil, fmt.Errorf("register %s: %w", c.params.MimeType, err)
		}
	}
	exts := []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{sdp.SDESMidURI, webrtc.RTPCodecTypeAudio},
		{sdp.SDESMidURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRepairRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{AudioLevelURI, webrtc.RTPCodecTypeAudio},
	}
	for _, e := range exts {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return nil, fmt.Errorf("register extension %s: %w", e.uri, err)
		}
	}
	ir := &interceptor.Registry{}
	if cfg.Interceptors != nil {
		cfg.Interceptors(ir)
	}
	// NACK like libwebrtc: a packet is asked for at most 10 times (its
	// kMaxNackRetries), so a packet that cannot come back is not asked for
	// forever.
	nackOpts := webrtc.WithNackGeneratorOptions(nack.GeneratorMaxNacksPerPacket(10))
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(m, ir, nackOpts); err != nil {
		return nil, fmt.Errorf("register interceptors: %w", err)
	}
	se := webrtc.SettingEngine{}
	applyNetworkDefaults(&se, cfg.AllowIPs)
	// libwebrtc's SRTP replay window is 1024 packets; pion's default of 64
	// rejects a retransmission that comes back after 64 newer packets
	// (a few hundred ms of video), which a browser would accept.
	se.SetSRTPReplayProtectionWindow(1024)
	if cfg.ConfigureAPI != nil {
		cfg.ConfigureAPI(&se)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(se)), nil
}

// applyNetworkDefaults keeps ICE on loopback (see shared/notes/testbed.md:
// the machine's other addresses are not allowed targets), plus any networks
// the caller admits, and prefers AES-GCM SRTP.
func applyNetworkDefaults(se *webrtc.SettingEngine, allow []netip.Prefix) {
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(ipFilter(allow))
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	// Like a browser: notice a dead path within seconds, so the publish
	// connection restarts ICE soon after a network change.
	se.SetICETimeouts(3*time.Second, 10*time.Second, time.Second)
}

// ipFilter admits loopback and the given networks.
func ipFilter(allow []netip.Prefix) func(net.IP) bool {
	return func(ip net.IP) bool {
		if ip.IsLoopback() {
			return true
		}
		addr, ok := netip.AddrFromSlice(ip)
		if !ok {
			return false
		}
		addr = addr.Unmap()
		for _, p := range allow {
			if p.Contains(addr) {
				return true
			}
		}
		return false
	}
}
