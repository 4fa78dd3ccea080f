package cluster

import (
	"testing"
	"time"
)

func TestRateMeter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	steps := []struct {
		bytes uint64
		at    time.Duration
		want  uint64
	}{
		{1000, 0, 0}, // first read: no interval yet
		{1000 + 250_000, 2 * time.Second, 1_000_000}, // 250 kB in 2 s = 1 Mbit/s
		{1000 + 250_000, 4 * time.Second, 0},         // idle
		{10, 6 * time.Second, 0},                     // counter went back: no figure
		{10 + 125, 7 * time.Second, 1000},
	}
	var m rateMeter
	for i, s := range steps {
		if got := m.read(s.bytes, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d: %d bit/s, want %d", i, got, s.want)
		}
	}
}

func TestCPUMeter(t *testing.T) {
	var m cpuMeter
	now := time.Now()
	if got := m.read(now); got != 0 {
		t.Fatalf("first read = %v, want 0", got)
	}
	end := time.Now().Add(20 * time.Millisecond)
	for time.Now().Before(end) { // keep one core busy
	}
	if got := m.read(time.Now()); got <= 0 || got > 64 {
		t.Fatalf("busy cores = %v, want a positive figure", got)
	}
}
