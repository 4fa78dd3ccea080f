package sfu

import (
	"log/slog"
	"testing"

	"github.com/pion/webrtc/v4"
)

// The route of a pair is its two transport addresses: the same addresses
// are the same path, a new port or protocol (a restart onto other sockets,
// ICE-TCP, a relay) another.
func TestRouteKey(t *testing.T) {
	c := func(proto webrtc.ICEProtocol, addr string, port uint16) *webrtc.ICECandidate {
		return &webrtc.ICECandidate{Protocol: proto, Address: addr, Port: port}
	}
	base := routeKey(c(webrtc.ICEProtocolUDP, "10.0.0.1", 7882), c(webrtc.ICEProtocolUDP, "192.0.2.7", 50000))
	tests := []struct {
		name          string
		local, remote *webrtc.ICECandidate
		same          bool
	}{
		{"same pair", c(webrtc.ICEProtocolUDP, "10.0.0.1", 7882), c(webrtc.ICEProtocolUDP, "192.0.2.7", 50000), true},
		{"client's new port", c(webrtc.ICEProtocolUDP, "10.0.0.1", 7882), c(webrtc.ICEProtocolUDP, "192.0.2.7", 50001), false},
		{"client's new network", c(webrtc.ICEProtocolUDP, "10.0.0.1", 7882), c(webrtc.ICEProtocolUDP, "198.51.100.3", 50000), false},
		{"over TCP", c(webrtc.ICEProtocolTCP, "10.0.0.1", 7881), c(webrtc.ICEProtocolTCP, "192.0.2.7", 50000), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := routeKey(tc.local, tc.remote) == base; got != tc.same {
				t.Fatalf("same route = %v, want %v", got, tc.same)
			}
		})
	}
}

// A new pair on the subscribe connection starts its estimate over; the
// first pair and the same pair again do not.
func TestSubscribeRouteStartsEstimateOver(t *testing.T) {
	s, err := New(DefaultRTCConfig(), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	p, _, err := s.Join("route", JoinRequest{Identity: "x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	est := p.est
	p.mu.Unlock()
	if est == nil {
		t.Fatal("no estimator on the subscribe connection")
	}
	pair := func(port uint16) *webrtc.ICECandidatePair {
		return webrtc.NewICECandidatePair(
			&webrtc.ICECandidate{Protocol: webrtc.ICEProtocolUDP, Address: "127.0.0.1", Port: 7882},
			&webrtc.ICECandidate{Protocol: webrtc.ICEProtocolUDP, Address: "127.0.0.1", Port: port})
	}
	for _, step := range []struct {
		port    uint16
		restart bool
	}{{50000, false}, {50000, false}, {50001, true}} {
		p.subscribeRoute(pair(step.port))
		if got := est.Stats().Cause == "route changed"; got != step.restart {
			t.Fatalf("pair to port %d: estimate started over = %v, want %v", step.port, got, step.restart)
		}
	}
}
