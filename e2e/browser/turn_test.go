package browser

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki/app"
)

// writeTestCert writes a self-signed certificate for ip (the TURN server's
// address) and its key, PEM, into dir.
func writeTestCert(t *testing.T, dir, ip string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: ip},
		IPAddresses:  []net.IP{net.ParseIP(ip)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "turn.crt"), filepath.Join(dir, "turn.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// Two browsers in a relay-only server whose only TURN is TURN over TLS (the
// enterprise network where nothing but TLS gets out): both connect through
// the relay, over TLS, and decode each other.
func TestRelayOnlyThroughTURNOverTLS(t *testing.T) {
	requireBrowserEnv(t)
	ctx := deadline(t, 90*time.Second)
	cert, key := writeTestCert(t, t.TempDir(), serverIP)
	srv := startServer(t, func(c *app.Config) {
		c.Room.P2P = false
		c.RTC.RelayOnly = true
		c.TURN.TLSPort = freeTCPPort(t)
		c.TURN.CertFile, c.TURN.KeyFile, c.TURN.Domain = cert, key, serverIP
		c.TURN.IPs = []string{serverIP}
	})
	// Chromium checks the TURN server's certificate; the test's own CA is
	// not in its store, so certificate errors are waved through here.
	insecure := chromedp.Flag("ignore-certificate-errors", true)
	room := "relay-tls"
	alice := newBrowserWith(t, ctx, "alice", insecure)
	bob := newBrowserWith(t, ctx, "bob", insecure)
	joinRoom(ctx, t, srv, alice, room, "Alice")
	joinRoom(ctx, t, srv, bob, room, "Bob")
	bobVideo := waitMedia(ctx, t, alice, "Bob", "camera")
	aliceVideo := waitMedia(ctx, t, bob, "Alice", "camera")
	if bobVideo == "" || aliceVideo == "" {
		t.Fatal("no video through the relay")
	}
	for _, b := range []*browser{alice, bob} {
		var pairs []struct {
			LocalType     string `json:"localType"`
			RelayProtocol string `json:"relayProtocol"`
		}
		b.mustEval(ctx, `(async () => {
			const out = [];
			for (const pc of [window.hibikiRoom.pcs.publish, window.hibikiRoom.pcs.subscribe]) {
				const report = await pc.getStats();
				for (const s of report.values()) {
					if (s.type !== 'candidate-pair' || !s.nominated || s.state !== 'succeeded') continue;
					const l = report.get(s.localCandidateId) || {};
					out.push({localType: l.candidateType || '', relayProtocol: l.relayProtocol || ''});
				}
			}
			return out;
		})()`, &pairs)
		if len(pairs) < 2 {
			t.Fatalf("%s: %d selected candidate pairs, want publish and subscribe", b.name, len(pairs))
		}
		for _, p := range pairs {
			if p.LocalType != "relay" || p.RelayProtocol != "tls" {
				t.Errorf("%s: selected pair is %s over %q, want relay over tls", b.name, p.LocalType, p.RelayProtocol)
			}
		}
	}
}

// freeTCPPort returns a TCP port that was free on the server address a
// moment ago.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(serverIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
