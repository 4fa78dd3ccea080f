package bot

import (
	"net"
	"net/netip"
	"testing"

	"github.com/pion/webrtc/v4"
)

func TestIPFilter(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("10.77.0.0/24")}
	for _, tc := range []struct {
		ip    string
		allow []netip.Prefix
		want  bool
	}{
		{"127.0.0.1", nil, true},
		{"::1", nil, true},
		{"192.168.1.5", nil, false},
		{"10.77.0.2", nil, false},
		{"10.77.0.2", allow, true},
		{"10.77.1.2", allow, false},
		{"::ffff:10.77.0.9", allow, true},
	} {
		if got := ipFilter(tc.allow)(net.ParseIP(tc.ip)); got != tc.want {
			t.Errorf("filter(%s, %v) = %v, want %v", tc.ip, tc.allow, got, tc.want)
		}
	}
}

func TestNewAPI(t *testing.T) {
	called := false
	cfg, err := Config{URL: "ws://x", Identity: "a", Room: "r"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConfigureAPI = func(_ *webrtc.SettingEngine) { called = true }
	if _, err := newAPI(cfg); err != nil {
		t.Fatal(err)
	}
	if !called {
		t.Error("ConfigureAPI hook not called")
	}
}
