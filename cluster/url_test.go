package cluster_test

import (
	"errors"
	"testing"

	"github.com/hibiki-sfu/hibiki/cluster"
)

func TestHTTPBase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ws://127.0.0.1:7880/ws", "http://127.0.0.1:7880"},
		{"wss://a.example.com/ws", "https://a.example.com"},
		{"wss://a.example.com:8443/hibiki/ws?x=1", "https://a.example.com:8443"},
		{"ws://[::1]:7880/ws", "http://[::1]:7880"},
	}
	for _, tt := range tests {
		got, err := cluster.HTTPBase(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("HTTPBase(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"http://a/ws", "ws:///ws", "::", ""} {
		if got, err := cluster.HTTPBase(bad); !errors.Is(err, cluster.ErrConfig) {
			t.Errorf("HTTPBase(%q) = %q, %v; want ErrConfig", bad, got, err)
		}
	}
}
