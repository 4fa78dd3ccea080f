package bwe

import (
	"testing"
	"time"
)

// The queueing delay is the newest one-way delay over the smallest of the
// last 5-10 s, whatever the clocks' offset; a base older than two windows
// is forgotten (a new route's longer delay is not a queue forever).
func TestQueueDelay(t *testing.T) {
	var q queueDelay
	if q.delay() != 0 {
		t.Fatal("a delay before any packet")
	}
	start := time.Unix(1000, 0)
	offset := 3 * time.Hour // the receiver's clock: any offset
	send := func(at, owd time.Duration) {
		q.add(offset+at+owd, start.Add(at), start.Add(at+owd))
	}
	tests := []struct {
		at, owd time.Duration
		want    time.Duration
	}{
		{0, 20 * time.Millisecond, 0},
		{100 * time.Millisecond, 20 * time.Millisecond, 0},
		{200 * time.Millisecond, 320 * time.Millisecond, 300 * time.Millisecond}, // a queue grew
		{300 * time.Millisecond, 820 * time.Millisecond, 800 * time.Millisecond},
		{2 * time.Second, 25 * time.Millisecond, 5 * time.Millisecond}, // drained
		// A new route with 60 ms: a queue at first, the base once the old
		// minimum's window is out of both buckets.
		{7 * time.Second, 60 * time.Millisecond, 40 * time.Millisecond},
		{13 * time.Second, 60 * time.Millisecond, 0},
	}
	for _, tt := range tests {
		send(tt.at, tt.owd)
		if got := q.delay(); got != tt.want {
			t.Errorf("packet sent at %v with %v one-way: delay %v, want %v", tt.at, tt.owd, got, tt.want)
		}
	}
}

// Right after a drop the newest report is a queue's delay old; the queue a
// packet sent now meets has grown by what was sent beyond what arrived.
func TestQueueDelayNow(t *testing.T) {
	var q queueDelay
	start := time.Unix(1000, 0)
	q.add(20*time.Millisecond, start, start.Add(20*time.Millisecond))
	q.add(time.Second+265*time.Millisecond, start.Add(time.Second), start.Add(time.Second+265*time.Millisecond))
	now := start.Add(time.Second + 265*time.Millisecond)
	tests := []struct {
		name       string
		recv, sent int
		want       time.Duration
	}{
		{"path keeps up", 1_000_000, 1_000_000, 245 * time.Millisecond},
		{"no rates", 0, 0, 245 * time.Millisecond},
		// 265 ms since that packet was sent, at 3.4 times what arrives.
		{"sent 3.4x what arrives", 300_000, 1_020_000, 245*time.Millisecond + 636*time.Millisecond},
	}
	for _, tt := range tests {
		if got := q.now(now, tt.recv, tt.sent); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
