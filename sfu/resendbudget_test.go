package sfu

import (
	"testing"
	"time"
)

type fixedRate int

func (f fixedRate) GetTargetBitrate() int { return int(f) }
func (f fixedRate) Estimate() int         { return 2 * int(f) }

func TestResendBudget(t *testing.T) {
	t0 := time.Unix(0, 0)
	// 800 kbit/s = 100 kB/s: a 100 ms burst of 10 kB, then 1 kB per 10 ms.
	b := &resendBudget{src: fixedRate(800_000)}
	sent := 0
	for b.allow(1000, false, t0) {
		sent++
	}
	if sent != 10 {
		t.Fatalf("burst: %d packets of 1000 bytes, want 10", sent)
	}
	if b.allow(1000, false, t0.Add(5*time.Millisecond)) {
		t.Fatal("allowed before the bucket refilled")
	}
	if !b.allow(1000, false, t0.Add(10*time.Millisecond)) {
		t.Fatal("refused after 10 ms at 100 kB/s")
	}
	// A long pause refills only up to the burst.
	sent = 0
	for b.allow(1000, false, t0.Add(10*time.Second)) {
		sent++
	}
	if sent != 10 {
		t.Fatalf("after a pause: %d packets, want 10 (the burst)", sent)
	}
	// Keyframe packets may borrow a burst of the whole estimate
	// (1.6 Mbit/s: 20 kB) beyond the empty bucket; others then wait.
	sent = 0
	for b.allow(1000, true, t0.Add(10*time.Second)) {
		sent++
	}
	if sent != 20 {
		t.Fatalf("keyframe borrowing: %d packets, want 20", sent)
	}
	if b.allow(1000, false, t0.Add(10*time.Second+100*time.Millisecond)) {
		t.Fatal("a delta packet was allowed while the bucket is in debt")
	}
	// A tiny budget still lets one full packet through per refill.
	small := &resendBudget{src: fixedRate(8_000)}
	if !small.allow(maxCachedPacket, false, t0) || small.allow(maxCachedPacket, false, t0) {
		t.Fatal("small budget: want exactly one full-size packet at first")
	}
}
