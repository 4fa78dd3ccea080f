package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"
)

// TLSConfig is the HTTPS side of the server: the page, the signaling
// WebSocket (HTTP/1.1 upgrade or, over HTTP/2, extended CONNECT) and the
// long-poll endpoint all share the listen port.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// DevSelfSigned makes a throwaway self-signed certificate at start
	// (--dev-tls), for local tests of wss:// and HTTP/2 only: browsers
	// warn about it.
	DevSelfSigned bool `yaml:"dev_self_signed"`
}

// Enabled reports whether the server speaks HTTPS.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" || c.DevSelfSigned }

func (c TLSConfig) validate() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return fmt.Errorf("%w: tls.cert_file and tls.key_file must be given together", ErrConfig)
	}
	if c.CertFile != "" && c.DevSelfSigned {
		return fmt.Errorf("%w: tls.cert_file and --dev-tls exclude each other", ErrConfig)
	}
	return nil
}

// serverTLS loads or makes the certificate; nil when TLS is off. hosts
// name the self-signed certificate's subjects.
func (c TLSConfig) serverTLS(hosts []string) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	switch {
	case c.CertFile != "":
		cert, err = tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: tls: %w", ErrConfig, err)
		}
	case c.DevSelfSigned:
		if cert, err = selfSigned(hosts, time.Now()); err != nil {
			return nil, fmt.Errorf("dev tls: %w", err)
		}
	default:
		return nil, nil
	}
	// NextProtos stays empty: http.Server.ServeTLS offers h2 and http/1.1.
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// selfSigned makes an ECDSA P-256 certificate for hosts (names or IPs)
// plus localhost and the loopback addresses, valid for 30 days.
func selfSigned(hosts []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "hibiki development"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so a test can trust it as its own root
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
