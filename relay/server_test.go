package relay

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "test-secret"

// selfSigned returns a server TLS config and a client pool trusting it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "turn.test"},
		DNSNames: []string{"turn.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, pool
}

func startRelay(t *testing.T, tlsConf *tls.Config) *Server {
	t.Helper()
	cfg := Config{IPs: []string{"127.0.0.1"}, UDPPort: -1, TCPPort: -1, Secret: secret, Logger: slog.New(slog.DiscardHandler)}
	if tlsConf != nil {
		cfg.TLSPort, cfg.TLS = -1, tlsConf
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// allocate runs a TURN client over conn and returns the relayed address,
// or the allocation error.
func allocate(t *testing.T, conn net.PacketConn, server net.Addr, user, pass string) (net.Addr, error) {
	t.Helper()
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: server.String(), TURNServerAddr: server.String(),
		Conn: conn, Username: user, Password: pass, Realm: "hibiki", RTO: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatalf("listen: %v", err)
	}
	relayConn, err := c.Allocate()
	if err != nil {
		return nil, err
	}
	defer relayConn.Close()
	return relayConn.LocalAddr(), nil
}

// Allocations succeed over UDP, TCP and TLS with a fresh credential, and
// the relay address is the configured IP.
func TestAllocateOverEveryTransport(t *testing.T) {
	tlsConf, pool := selfSigned(t)
	s := startRelay(t, tlsConf)
	user, pass := Credentials(secret, "alice", time.Minute, time.Now())
	dials := []struct {
		name string
		conn func() (net.PacketConn, net.Addr)
	}{
		{"udp", func() (net.PacketConn, net.Addr) {
			pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			return pc, s.UDPAddrs()[0]
		}},
		{"tcp", func() (net.PacketConn, net.Addr) {
			c, err := net.Dial("tcp", s.TCPAddrs()[0].String())
			if err != nil {
				t.Fatal(err)
			}
			return turn.NewSTUNConn(c), s.TCPAddrs()[0]
		}},
		{"tls", func() (net.PacketConn, net.Addr) {
			c, err := tls.Dial("tcp", s.TLSAddrs()[0].String(), &tls.Config{RootCAs: pool, ServerName: "turn.test", MinVersion: tls.VersionTLS12})
			if err != nil {
				t.Fatal(err)
			}
			return turn.NewSTUNConn(c), s.TLSAddrs()[0]
		}},
	}
	for _, d := range dials {
		t.Run(d.name, func(t *testing.T) {
			conn, addr := d.conn()
			defer conn.Close()
			relayed, err := allocate(t, conn, addr, user, pass)
			if err != nil {
				t.Fatalf("allocate: %v", err)
			}
			if ua, ok := relayed.(*net.UDPAddr); !ok || !ua.IP.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Fatalf("relay address %v, want 127.0.0.1", relayed)
			}
		})
	}
}

// Expired, forged and malformed credentials are refused.
func TestBadCredentialsRefused(t *testing.T) {
	s := startRelay(t, nil)
	expUser, expPass := Credentials(secret, "alice", -time.Minute, time.Now())
	okUser, _ := Credentials(secret, "alice", time.Minute, time.Now())
	cases := []struct{ name, user, pass string }{
		{"expired", expUser, expPass},
		{"wrong secret", okUser, Password("other", okUser)},
		{"not rest format", "alice", "pw"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			if _, err := allocate(t, pc, s.UDPAddrs()[0], c.user, c.pass); err == nil {
				t.Fatal("allocation succeeded")
			}
		})
	}
}

// The relay reaches only the SFU's own addresses.
func TestPermissionOnlyTowardsPeers(t *testing.T) {
	perm := permitOnly([]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")})
	cases := []struct {
		peer string
		ok   bool
	}{{"127.0.0.1", true}, {"::1", true}, {"10.0.0.1", false}, {"127.0.0.2", false}}
	for _, c := range cases {
		if got := perm(nil, net.ParseIP(c.peer)); got != c.ok {
			t.Errorf("peer %s: %v, want %v", c.peer, got, c.ok)
		}
	}
}

func TestStartRefusesBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{"no secret", Config{IPs: []string{"127.0.0.1"}, UDPPort: -1}},
		{"no port", Config{IPs: []string{"127.0.0.1"}, Secret: "x"}},
		{"tls without cert", Config{IPs: []string{"127.0.0.1"}, TLSPort: -1, Secret: "x"}},
		{"bad ip", Config{IPs: []string{"nope"}, UDPPort: -1, Secret: "x"}},
		{"no ip", Config{UDPPort: -1, Secret: "x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if s, err := Start(c.cfg); err == nil {
				_ = s.Close()
				t.Fatal("started")
			}
		})
	}
}
