package sfu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/sdp/v3"
	piontransport "github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// RTCConfig is the media-plane network configuration. Its zero value is not
// useful; start from DefaultRTCConfig, which keeps all media on loopback.
type RTCConfig struct {
	// IPs is the allow-list of local addresses used for ICE candidates. Empty
	// means every address of the machine; the default is loopback only, so a
	// development server never announces (or sends to) other interfaces.
	IPs []string
	// UDPPort, when non-zero, multiplexes every session on this one UDP port.
	UDPPort int
	// UDPPortMin and UDPPortMax bound the ephemeral ports used without a mux.
	UDPPortMin, UDPPortMax uint16
	// PublicIPs replace host candidate addresses (1:1 NAT, cloud VMs).
	PublicIPs []string
	// TCPPort, when non-zero, accepts ICE-TCP (passive candidates, RFC 6544)
	// on this port for clients whose UDP is blocked. -1 picks an ephemeral
	// port (tests).
	TCPPort int
	// RelayOnly makes every room relay-only (see Room.SetRelayOnly).
	RelayOnly bool
	// RelayIPs are the relay addresses of the embedded TURN server. When
	// set, relay-only connections accept remote candidates (including
	// peer-reflexive ones) only from these addresses. Leave empty when
	// clients may use external TURN servers.
	RelayIPs []string
	// ICEServers are handed to clients in the join answer.
	ICEServers []webrtc.ICEServer
	// Net, when set, is the network every peer connection uses instead of
	// the host's (pion's SettingEngine.SetNet): tests put the server on a
	// pion vnet router with rate, delay and loss filters. IPs must then
	// name the virtual addresses, and UDPPort must be 0 (the mux listens
	// on the host network).
	Net piontransport.Net
}

// ICE timing of the server's connections. Disconnected after 3 s of
// silence (pion's default 5 s makes a short outage look like none, and the
// server restarts ICE on disconnected); consent checks every second keep
// that detection independent of media flow.
const (
	iceDisconnectedTimeout = 3 * time.Second
	iceFailedTimeout       = 10 * time.Second
	iceKeepalive           = time.Second
)

// DefaultRTCConfig keeps media on loopback, which is what a newcomer running
// the demo on one machine wants and what the tests require.
func DefaultRTCConfig() RTCConfig {
	return RTCConfig{IPs: []string{"127.0.0.1"}}
}

// mediaEngine registers the codecs an SFU must carry (Opus, VP8, H264) and
// the header extensions simulcast and audio levels rely on.
func mediaEngine() (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("register codecs: %w", err)
	}
	exts := []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{"urn:ietf:params:rtp-hdrext:sdes:mid", webrtc.RTPCodecTypeVideo},
		{"urn:ietf:params:rtp-hdrext:sdes:mid", webrtc.RTPCodecTypeAudio},
		{"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", webrtc.RTPCodecTypeVideo},
		{"urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", webrtc.RTPCodecTypeVideo},
		{AudioLevelURI, webrtc.RTPCodecTypeAudio},
	}
	for _, e := range exts {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return nil, fmt.Errorf("register extension %s: %w", e.uri, err)
		}
	}
	return m, nil
}

// AudioLevelURI is the RFC 6464 client-to-mixer audio level extension, read
// for speaker detection without decoding audio.
const AudioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// transport is the shared network state of all peer connections: the
// setting engine and, when configured, the one UDP mux.
type transport struct {
	settings webrtc.SettingEngine
	mux      *ice.MultiUDPMuxDefault
	tcp      *tcpMux
	relayIPs map[string]bool
	// cert is the one DTLS certificate of every connection: generating a
	// key per connection costs CPU at each join and memory for nothing.
	// pion's certificates last a month, so it is renewed a week ahead.
	certMu sync.Mutex
	cert   *webrtc.Certificate
}

// certRenewal is how long before expiry the shared certificate is renewed.
const certRenewal = 7 * 24 * time.Hour

// pcConfig is the configuration of every server peer connection.
func (t *transport) pcConfig() webrtc.Configuration {
	t.certMu.Lock()
	defer t.certMu.Unlock()
	if t.cert == nil || time.Until(t.cert.Expires()) < certRenewal {
		if cert, err := newCertificate(); err == nil {
			t.cert = cert
		}
	}
	if t.cert == nil {
		return webrtc.Configuration{} // pion then makes its own per connection
	}
	return webrtc.Configuration{Certificates: []webrtc.Certificate{*t.cert}}
}

func newCertificate() (*webrtc.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dtls key: %w", err)
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return nil, fmt.Errorf("dtls certificate: %w", err)
	}
	return cert, nil
}

func newTransport(cfg RTCConfig, logger *slog.Logger) (*transport, error) {
	cert, err := newCertificate()
	if err != nil {
		return nil, err
	}
	t := &transport{cert: cert}
	s := &t.settings
	allowed := make(map[string]bool, len(cfg.IPs))
	v6 := false
	for _, ip := range cfg.IPs {
		parsed := net.ParseIP(ip)
		if parsed == nil {
			return nil, fmt.Errorf("%w: %q", ErrBadIP, ip)
		}
		allowed[parsed.String()] = true
		if parsed.To4() == nil {
			v6 = true
		}
		if parsed.Equal(net.IPv6loopback) {
			// pion/ice drops ::1 as an "IPv4-compatible" address: no
			// candidate will ever be gathered on it.
			logger.Warn("rtc ip ::1 yields no ICE candidates (pion/ice ignores it); use a unique local address such as fd00::1 for IPv6 tests")
		}
	}
	filter := func(ip net.IP) bool { return len(allowed) == 0 || allowed[ip.String()] }
	s.SetIPFilter(filter)
	if cfg.Net != nil {
		if cfg.UDPPort > 0 {
			return nil, fmt.Errorf("%w: a UDP mux port cannot be used with a virtual network", ErrBadIP)
		}
		s.SetNet(cfg.Net)
	}
	s.SetIncludeLoopbackCandidate(true)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetICETimeouts(iceDisconnectedTimeout, iceFailedTimeout, iceKeepalive)
	relayIPs, err := ipSet(cfg.RelayIPs)
	if err != nil {
		return nil, err
	}
	t.relayIPs = relayIPs
	// AEAD GCM costs a quarter of CM-SHA1 per packet (see docs/benchmarks.md);
	// browsers support both, so offer GCM first.
	s.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	if len(cfg.PublicIPs) > 0 {
		s.SetNAT1To1IPs(cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	if cfg.UDPPortMin > 0 && cfg.UDPPortMax >= cfg.UDPPortMin {
		if err := s.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return nil, fmt.Errorf("udp port range: %w", err)
		}
	}
	if cfg.UDPPort > 0 {
		iceNets := []ice.NetworkType{ice.NetworkTypeUDP4}
		if v6 || len(allowed) == 0 {
			iceNets = append(iceNets, ice.NetworkTypeUDP6)
		}
		mux, err := ice.NewMultiUDPMuxFromPort(cfg.UDPPort,
			ice.UDPMuxFromPortWithIPFilter(filter),
			ice.UDPMuxFromPortWithLoopback(),
			ice.UDPMuxFromPortWithNetworks(iceNets...),
		)
		if err != nil {
			return nil, fmt.Errorf("udp mux on port %d: %w", cfg.UDPPort, err)
		}
		s.SetICEUDPMux(mux)
		t.mux = mux
		logger.Debug("media on one UDP port", "port", cfg.UDPPort)
	}
	if cfg.TCPPort != 0 {
		tm, err := newTCPMux(cfg.IPs, cfg.TCPPort)
		if err != nil {
			_ = t.close()
			return nil, err
		}
		t.tcp = tm
		s.SetICETCPMux(tm.mux)
		// The server only listens; active candidates would dial clients.
		s.DisableActiveTCP(true)
		logger.Debug("ICE-TCP", "addrs", tm.addrs())
	}
	s.SetNetworkTypes(networkTypes(v6 || len(allowed) == 0, cfg.TCPPort != 0))
	return t, nil
}

// networkTypes lists the candidate networks: UDP always, IPv6 when an IPv6
// address is allowed, TCP when ICE-TCP listens.
func networkTypes(v6, tcp bool) []webrtc.NetworkType {
	out := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	if v6 {
		out = append(out, webrtc.NetworkTypeUDP6)
	}
	if tcp {
		out = append(out, webrtc.NetworkTypeTCP4)
		if v6 {
			out = append(out, webrtc.NetworkTypeTCP6)
		}
	}
	return out
}

func ipSet(ips []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ips))
	for _, ip := range ips {
		parsed := net.ParseIP(ip)
		if parsed == nil {
			return nil, fmt.Errorf("%w: %q", ErrBadIP, ip)
		}
		out[parsed.String()] = true
	}
	return out, nil
}

// apiOptions are the per-connection choices of newAPI.
type apiOptions struct {
	relayOnly bool
	// ownPort gives the connection a socket of its own instead of the
	// shared media port. The relay connections between two nodes all run
	// from one node's media port to the other's: on both muxes they would
	// share one address pair, which the mux maps to a single connection.
	ownPort bool
	first   interceptor.Factory
}

// role says which way media flows on a peer connection, so each gets only
// the interceptors it needs: a publish connection receives (NACK
// generation, receiver reports, TWCC feedback), a subscribe connection
// sends (sender reports, TWCC sequence numbers). Subscribers' NACKs are
// answered by the DownTrack from the shared layer caches (nack.go), not by
// pion's responder, which would keep a copy of every packet per subscriber.
type role uint8

const (
	rolePublish role = iota + 1
	roleSubscribe
)

// newAPI builds a pion API for one peer connection. Each connection gets its
// own media engine and interceptor registry because pion binds negotiated
// state (payload types, extension ids) to them.
// o.relayOnly restricts the connection's remote candidates to the embedded
// TURN relay's addresses, when those are known. o.first, when not nil, is
// registered before the role's interceptors, so it writes closest to the
// network: the subscribe connection's congestion controller must see every
// packet (retransmissions included) with the transport-wide sequence number
// already stamped.
func (t *transport) newAPI(r role, o apiOptions, extra ...interceptor.Factory) (*webrtc.API, error) {
	m, err := mediaEngine()
	if err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if o.first != nil {
		reg.Add(o.first)
	}
	if err := registerInterceptors(m, reg, r); err != nil {
		return nil, err
	}
	for _, f := range extra {
		reg.Add(f)
	}
	settings := t.settings
	if o.relayOnly && len(t.relayIPs) > 0 {
		// Peer-reflexive candidates pass this filter too, so a client
		// that sends checks from its own address is never paired.
		settings.SetRemoteIPFilter(func(ip net.IP) bool { return t.relayIPs[ip.String()] })
	}
	if o.ownPort {
		settings.SetICEUDPMux(nil)
	}
	return webrtc.NewAPI(
		webrtc.WithMediaEngine(m),
		webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(settings),
	), nil
}

func registerInterceptors(m *webrtc.MediaEngine, reg *interceptor.Registry, r role) error {
	for _, fb := range []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, {Type: webrtc.TypeRTCPFBTransportCC}} {
		m.RegisterFeedback(fb, webrtc.RTPCodecTypeVideo)
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, webrtc.RTPCodecTypeAudio)
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
			return fmt.Errorf("register twcc extension: %w", err)
		}
	}
	var factories []interceptor.Factory
	switch r {
	case rolePublish:
		gen, err := nack.NewGeneratorInterceptor()
		if err != nil {
			return fmt.Errorf("nack generator: %w", err)
		}
		rr, err := report.NewReceiverInterceptor()
		if err != nil {
			return fmt.Errorf("receiver reports: %w", err)
		}
		fb, err := twcc.NewSenderInterceptor()
		if err != nil {
			return fmt.Errorf("twcc feedback: %w", err)
		}
		factories = append(factories, gen, rr, fb)
	case roleSubscribe:
		sr, err := report.NewSenderInterceptor()
		if err != nil {
			return fmt.Errorf("sender reports: %w", err)
		}
		seq, err := twcc.NewHeaderExtensionInterceptor()
		if err != nil {
			return fmt.Errorf("twcc sequence numbers: %w", err)
		}
		factories = append(factories, sr, seq)
	}
	for _, f := range factories {
		reg.Add(f)
	}
	return nil
}

func (t *transport) close() error {
	var errs []error
	if t.mux != nil {
		if err := t.mux.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close udp mux: %w", err))
		}
	}
	if t.tcp != nil {
		if err := t.tcp.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
