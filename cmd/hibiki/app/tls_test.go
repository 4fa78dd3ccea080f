package app

import (
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"
)

func TestTLSConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		tls  TLSConfig
		ok   bool
	}{
		{"off", TLSConfig{}, true},
		{"files", TLSConfig{CertFile: "c.pem", KeyFile: "k.pem"}, true},
		{"dev", TLSConfig{DevSelfSigned: true}, true},
		{"cert without key", TLSConfig{CertFile: "c.pem"}, false},
		{"key without cert", TLSConfig{KeyFile: "k.pem"}, false},
		{"files and dev", TLSConfig{CertFile: "c.pem", KeyFile: "k.pem", DevSelfSigned: true}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.TLS = tc.tls
			err := cfg.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestTLSFlags(t *testing.T) {
	cfg := DefaultConfig()
	o := Overrides()
	for name, v := range map[string]string{"dev-tls": "true", "tls-cert": "c", "tls-key": "k"} {
		if err := o[name](&cfg, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if !cfg.TLS.DevSelfSigned || cfg.TLS.CertFile != "c" || cfg.TLS.KeyFile != "k" {
		t.Errorf("flags gave %+v", cfg.TLS)
	}
}

// The development certificate verifies for loopback, localhost and the
// configured addresses, so a test can trust it as a root.
func TestSelfSigned(t *testing.T) {
	now := time.Now()
	cert, err := selfSigned([]string{"10.77.0.1", "hibiki.test", ""}, now)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	for _, host := range []string{"127.0.0.1", "::1", "localhost", "10.77.0.1", "hibiki.test"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, CurrentTime: now}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.org", CurrentTime: now}); err == nil {
		t.Error("certificate verifies for example.org")
	}
	if !cert.Leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("first IP %v", cert.Leaf.IPAddresses[0])
	}
}
