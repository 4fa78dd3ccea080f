package app

import (
	"slices"
	"testing"
)

func TestTURNHost(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"rtc ip", func(*Config) {}, "127.0.0.1"},
		{"turn ip", func(c *Config) { c.TURN.IPs = []string{"::1"} }, "::1"},
		{"public ip", func(c *Config) { c.RTC.PublicIPs = []string{"203.0.113.7"} }, "203.0.113.7"},
		{"domain", func(c *Config) { c.TURN.Domain = "turn.example.org"; c.RTC.PublicIPs = []string{"203.0.113.7"} }, "turn.example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			if got := turnHost(&c); got != tt.want {
				t.Fatalf("turnHost = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTURNURLs(t *testing.T) {
	tc := TURNConfig{UDPPort: 3478, TCPPort: 3478, TLSPort: 443}
	got := turnURLs(&tc, "::1", nil)
	want := []string{"turn:[::1]:3478?transport=udp", "turn:[::1]:3478?transport=tcp", "turns:[::1]:443?transport=tcp"}
	if !slices.Equal(got, want) {
		t.Fatalf("urls %v, want %v", got, want)
	}
	if got := turnURLs(&TURNConfig{TCPPort: 3478}, "turn.example.org", nil); !slices.Equal(got, []string{"turn:turn.example.org:3478?transport=tcp"}) {
		t.Fatalf("tcp only: %v", got)
	}
}
