package app

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hibiki-sfu/hibiki/relay"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// TURNConfig configures the embedded TURN server. It runs when any of its
// ports is set; clients get its URLs with fresh credentials in every
// joined reply.
type TURNConfig struct {
	// UDPPort, TCPPort and TLSPort enable TURN over each transport (0 =
	// off). TLS on 443 passes firewalls that allow only HTTPS.
	UDPPort int `yaml:"udp_port"`
	TCPPort int `yaml:"tcp_port"`
	TLSPort int `yaml:"tls_port"`
	// CertFile and KeyFile are the PEM certificate chain and key for TLS;
	// the certificate must name Domain.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// Domain is the host name clients dial (required with TLS); default the
	// first public IP, else the first rtc IP.
	Domain string `yaml:"domain"`
	// IPs are the listen and relay addresses; default rtc.ips.
	IPs []string `yaml:"ips"`
	// Secret signs the credentials (TURN REST API). Empty: a random secret
	// per process, which is right unless an external TURN server shares it.
	Secret string `yaml:"secret"`
	// TTL is how long a credential is valid. Allocations cannot be
	// refreshed after it, so it must exceed the longest call.
	TTL time.Duration `yaml:"ttl"`
}

// Enabled reports whether the embedded TURN server runs.
func (t *TURNConfig) Enabled() bool { return t.UDPPort != 0 || t.TCPPort != 0 || t.TLSPort != 0 }

func (t *TURNConfig) validate(rtcIPs []string) error {
	if !t.Enabled() {
		return nil
	}
	if t.TTL <= 0 {
		return fmt.Errorf("%w: turn.ttl must be positive", ErrConfig)
	}
	if len(t.relayIPs(rtcIPs)) == 0 {
		return fmt.Errorf("%w: the embedded TURN server needs turn.ips (or rtc.ips) to relay on", ErrConfig)
	}
	for _, ip := range t.relayIPs(rtcIPs) {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("%w: turn ip %q is not an IP address", ErrConfig, ip)
		}
	}
	if t.TLSPort != 0 && (t.CertFile == "" || t.KeyFile == "" || t.Domain == "") {
		return fmt.Errorf("%w: turn.tls_port needs turn.cert_file, turn.key_file and turn.domain", ErrConfig)
	}
	return nil
}

func (t *TURNConfig) relayIPs(rtcIPs []string) []string {
	if len(t.IPs) > 0 {
		return t.IPs
	}
	return rtcIPs
}

// startTURN starts the embedded TURN server when configured and returns
// it with the function that mints per-join ICE servers.
func startTURN(cfg *Config, logger *slog.Logger) (*relay.Server, func(*signaling.Claims) []signaling.ICEServer, error) {
	static := make([]signaling.ICEServer, 0, len(cfg.RTC.ICEServers))
	for _, s := range cfg.RTC.ICEServers {
		static = append(static, signaling.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	t := cfg.TURN
	if !t.Enabled() {
		return nil, func(*signaling.Claims) []signaling.ICEServer { return static }, nil
	}
	secret := t.Secret
	if secret == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		secret = base64.RawStdEncoding.EncodeToString(b)
	}
	rc := relay.Config{
		IPs:     t.relayIPs(cfg.RTC.IPs),
		PeerIPs: append(append([]string(nil), cfg.RTC.IPs...), cfg.RTC.PublicIPs...),
		UDPPort: t.UDPPort, TCPPort: t.TCPPort, TLSPort: t.TLSPort,
		Secret: secret, Logger: logger,
	}
	if len(cfg.RTC.IPs) == 0 {
		rc.PeerIPs = append(rc.PeerIPs, rc.IPs...)
	}
	if t.TLSPort != 0 {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: turn certificate: %w", ErrConfig, err)
		}
		rc.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	srv, err := relay.Start(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("start turn: %w", err)
	}
	urls := turnURLs(&t, turnHost(cfg), srv)
	ttl := t.TTL
	return srv, func(c *signaling.Claims) []signaling.ICEServer {
		user, pass := relay.Credentials(secret, c.Identity(), ttl, time.Now())
		return append(append([]signaling.ICEServer(nil), static...),
			signaling.ICEServer{URLs: urls, Username: user, Credential: pass})
	}, nil
}

// turnHost is the host clients dial for TURN.
func turnHost(cfg *Config) string {
	switch {
	case cfg.TURN.Domain != "":
		return cfg.TURN.Domain
	case len(cfg.RTC.PublicIPs) > 0:
		return cfg.RTC.PublicIPs[0]
	default:
		return cfg.TURN.relayIPs(cfg.RTC.IPs)[0]
	}
}

// turnURLs lists the embedded server's URLs, with the bound port (a test
// config may ask for an ephemeral one with -1).
func turnURLs(t *TURNConfig, host string, srv *relay.Server) []string {
	var udp, tcp, tlsAddrs []net.Addr
	if srv != nil {
		udp, tcp, tlsAddrs = srv.UDPAddrs(), srv.TCPAddrs(), srv.TLSAddrs()
	}
	port := func(configured int, addrs []net.Addr) string {
		if configured > 0 || len(addrs) == 0 {
			return strconv.Itoa(configured)
		}
		_, p, _ := net.SplitHostPort(addrs[0].String())
		return p
	}
	hp := func(p string) string { return net.JoinHostPort(host, p) }
	var urls []string
	if t.UDPPort != 0 {
		urls = append(urls, "turn:"+hp(port(t.UDPPort, udp))+"?transport=udp")
	}
	if t.TCPPort != 0 {
		urls = append(urls, "turn:"+hp(port(t.TCPPort, tcp))+"?transport=tcp")
	}
	if t.TLSPort != 0 {
		urls = append(urls, "turns:"+hp(port(t.TLSPort, tlsAddrs))+"?transport=tcp")
	}
	return urls
}
