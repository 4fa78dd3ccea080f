package sfu

import (
	"testing"
	"time"
)

func TestKeyframeThrottleInterval(t *testing.T) {
	tests := []struct {
		name string
		rtt  time.Duration
		want time.Duration
	}{
		{"unknown rtt uses the minimum", 0, 200 * time.Millisecond},
		{"low rtt clamped up", 30 * time.Millisecond, 200 * time.Millisecond},
		{"twice the rtt", 150 * time.Millisecond, 300 * time.Millisecond},
		{"high rtt clamped down", 2 * time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var k KeyframeThrottle
			k.SetRTT(tt.rtt)
			if got := k.Interval(); got != tt.want {
				t.Fatalf("Interval = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKeyframeThrottleAllow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type req struct {
		layer int
		at    time.Duration
		want  bool
	}
	tests := []struct {
		name string
		rtt  time.Duration
		reqs []req
	}{
		{"first request passes, storm coalesced", 0, []req{
			{1, 0, true}, {1, 0, false}, {1, 50 * time.Millisecond, false}, {1, 199 * time.Millisecond, false},
			{1, 200 * time.Millisecond, true}, {1, 201 * time.Millisecond, false},
		}},
		{"layers are independent", 0, []req{
			{0, 0, true}, {1, 0, true}, {2, 0, true}, {0, time.Millisecond, false}, {2, time.Millisecond, false},
		}},
		{"interval follows rtt", 400 * time.Millisecond, []req{
			{0, 0, true}, {0, 700 * time.Millisecond, false}, {0, 800 * time.Millisecond, true},
		}},
		{"invalid layers never pass", 0, []req{{-1, 0, false}, {MaxSpatialLayers, 0, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var k KeyframeThrottle
			k.SetRTT(tt.rtt)
			for i, r := range tt.reqs {
				if got := k.Allow(r.layer, t0.Add(r.at)); got != r.want {
					t.Fatalf("request %d (layer %d at %v) = %v, want %v", i, r.layer, r.at, got, r.want)
				}
			}
		})
	}
}

func TestKeyframeThrottleManySubscribers(t *testing.T) {
	var k KeyframeThrottle
	t0 := time.Unix(1000, 0)
	allowed := 0
	// 500 subscribers each asking every 10 ms for one second.
	for ms := 0; ms < 1000; ms += 10 {
		for range 500 {
			if k.Allow(2, t0.Add(time.Duration(ms)*time.Millisecond)) {
				allowed++
			}
		}
	}
	if allowed != 5 {
		t.Fatalf("%d requests reached the publisher in 1 s, want 5", allowed)
	}
}
