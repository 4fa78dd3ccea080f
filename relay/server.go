package relay

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/pion/turn/v5"
)

// ErrConfig reports an unusable relay configuration.
var ErrConfig = errors.New("relay: invalid config")

// Config describes the embedded TURN server.
type Config struct {
	// IPs are the addresses the server listens on and hands out as relay
	// addresses, one per family at most being used for relays (the first
	// IPv4 and the first IPv6). They are the SFU's own media addresses.
	IPs []string
	// PeerIPs are the only addresses relayed traffic may go to (TURN
	// permissions). Empty means IPs: the embedded TURN serves the SFU only.
	PeerIPs []string
	// UDPPort, TCPPort and TLSPort enable a listener each (0 = off; tests
	// may use -1 for an ephemeral port).
	UDPPort, TCPPort, TLSPort int
	// TLS is the certificate configuration for TLSPort.
	TLS *tls.Config
	// Realm is the TURN realm; default "hibiki".
	Realm string
	// Secret is the shared secret of the REST API credentials. Required.
	Secret string
	// Now is the clock credentials are checked against; nil is time.Now.
	Now func() time.Time
	// Logger receives authentication failures and allocation events.
	Logger *slog.Logger
}

// Server is a running embedded TURN server.
type Server struct {
	turn   *turn.Server
	logger *slog.Logger
	udp    []net.Addr
	tcp    []net.Addr
	tls    []net.Addr
}

// Start opens the configured listeners and serves TURN on them.
func Start(cfg Config) (*Server, error) {
	if cfg.Secret == "" {
		return nil, fmt.Errorf("%w: secret is required", ErrConfig)
	}
	if cfg.UDPPort == 0 && cfg.TCPPort == 0 && cfg.TLSPort == 0 {
		return nil, fmt.Errorf("%w: no port enabled", ErrConfig)
	}
	if cfg.TLSPort != 0 && cfg.TLS == nil {
		return nil, fmt.Errorf("%w: tls port without a certificate", ErrConfig)
	}
	if cfg.Realm == "" {
		cfg.Realm = "hibiki"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ips, err := parseIPs(cfg.IPs)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("%w: no relay IP", ErrConfig)
	}
	peers := ips
	if len(cfg.PeerIPs) > 0 {
		if peers, err = parseIPs(cfg.PeerIPs); err != nil {
			return nil, err
		}
	}
	s := &Server{logger: cfg.Logger.With("component", "turn")}
	gen := newGenerator(ips)
	perm := permitOnly(peers)
	sc := turn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   s.authHandler(cfg),
		LoggerFactory: slogFactory{s.logger},
	}
	if err := s.listen(&sc, cfg, ips, gen, perm); err != nil {
		closeAll(&sc)
		return nil, err
	}
	ts, err := turn.NewServer(sc)
	if err != nil {
		closeAll(&sc)
		return nil, fmt.Errorf("start turn server: %w", err)
	}
	s.turn = ts
	s.logger.Info("turn server listening", "udp", s.udp, "tcp", s.tcp, "tls", s.tls)
	return s, nil
}

// listen opens one listener per IP and enabled protocol.
func (s *Server) listen(sc *turn.ServerConfig, cfg Config, ips []net.IP, gen turn.RelayAddressGenerator, perm turn.PermissionHandler) error {
	for _, ip := range ips {
		if cfg.UDPPort != 0 {
			pc, err := net.ListenPacket(family("udp", ip), hostPort(ip, cfg.UDPPort))
			if err != nil {
				return fmt.Errorf("turn udp: %w", err)
			}
			sc.PacketConnConfigs = append(sc.PacketConnConfigs, turn.PacketConnConfig{
				PacketConn: pc, RelayAddressGenerator: gen, PermissionHandler: perm,
			})
			s.udp = append(s.udp, pc.LocalAddr())
		}
		if cfg.TCPPort != 0 {
			ln, err := net.Listen(family("tcp", ip), hostPort(ip, cfg.TCPPort))
			if err != nil {
				return fmt.Errorf("turn tcp: %w", err)
			}
			sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{
				Listener: ln, RelayAddressGenerator: gen, PermissionHandler: perm,
			})
			s.tcp = append(s.tcp, ln.Addr())
		}
		if cfg.TLSPort != 0 {
			ln, err := tls.Listen(family("tcp", ip), hostPort(ip, cfg.TLSPort), cfg.TLS)
			if err != nil {
				return fmt.Errorf("turn tls: %w", err)
			}
			sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{
				Listener: ln, RelayAddressGenerator: gen, PermissionHandler: perm,
			})
			s.tls = append(s.tls, ln.Addr())
		}
	}
	return nil
}

func closeAll(sc *turn.ServerConfig) {
	for _, p := range sc.PacketConnConfigs {
		_ = p.PacketConn.Close()
	}
	for _, l := range sc.ListenerConfigs {
		_ = l.Listener.Close()
	}
}

// authHandler checks REST API credentials against the shared secret.
func (s *Server) authHandler(cfg Config) turn.AuthHandler {
	return func(ra *turn.RequestAttributes) (string, []byte, bool) {
		identity, err := CheckUsername(ra.Username, cfg.Now())
		if err != nil {
			s.logger.Debug("turn credential refused", "src", ra.SrcAddr.String(), "err", err)
			return "", nil, false
		}
		key := turn.GenerateAuthKey(ra.Username, ra.Realm, Password(cfg.Secret, ra.Username))
		return identity, key, true
	}
}

// UDPAddrs, TCPAddrs and TLSAddrs are the bound listener addresses (tests
// start with ephemeral ports and read them here).
func (s *Server) UDPAddrs() []net.Addr { return s.udp }

// TCPAddrs returns the TURN/TCP listener addresses.
func (s *Server) TCPAddrs() []net.Addr { return s.tcp }

// TLSAddrs returns the TURN/TLS listener addresses.
func (s *Server) TLSAddrs() []net.Addr { return s.tls }

// Allocations is the number of live allocations.
func (s *Server) Allocations() int { return s.turn.AllocationCount() }

// Close stops the server and every allocation.
func (s *Server) Close() error {
	if err := s.turn.Close(); err != nil {
		return fmt.Errorf("close turn server: %w", err)
	}
	return nil
}

func parseIPs(in []string) ([]net.IP, error) {
	out := make([]net.IP, 0, len(in))
	for _, s := range in {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("%w: bad IP %q", ErrConfig, s)
		}
		out = append(out, ip)
	}
	return out, nil
}

// family pins a listener to the IP's family ("udp4"/"udp6").
func family(proto string, ip net.IP) string {
	if ip.To4() != nil {
		return proto + "4"
	}
	return proto + "6"
}

// hostPort maps the test convention port -1 to an ephemeral port.
func hostPort(ip net.IP, port int) string {
	if port < 0 {
		port = 0
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(port))
}
