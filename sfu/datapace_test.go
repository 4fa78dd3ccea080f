package sfu

import (
	"testing"
	"time"
)

// fakeBudget is an estimator's data budget under the test's control.
type fakeBudget struct {
	spare     int
	congested bool
	counted   int
}

func (f *fakeBudget) DataBudget() (int, bool) { return f.spare, f.congested }
func (f *fakeBudget) CountData(n int)         { f.counted += n }

// sendFor sends 16 KiB messages through p for d, as a writer that sends
// whenever wait allows, and returns the rate achieved in bit/s over the
// second half of it.
func sendFor(p *dataPacer, start time.Time, d time.Duration) (rate float64, end time.Time) {
	const msg = 16 << 10
	now := start
	var half int
	for now.Sub(start) < d {
		if w := p.wait(now); w > 0 {
			now = now.Add(w)
			continue
		}
		p.spent(msg, now)
		if now.Sub(start) >= d/2 {
			half += msg
		}
	}
	return float64(half) * 8 / (d / 2).Seconds(), now
}

// After a congestion cut the data keeps to what the estimate leaves beside
// the media; without one it grows past that (x1.25 per 250 ms), since the
// estimate beside little media says nothing of the link's room.
func TestDataPacer(t *testing.T) {
	tests := []struct {
		name      string
		spare     int
		congested bool
		d         time.Duration
		lo, hi    float64 // bit/s over the second half
	}{
		{"congested keeps to the spare", 600_000, true, 5 * time.Second, 500_000, 800_000},
		{"congested, tiny spare: the floor", 10_000, true, 5 * time.Second, 40_000, 200_000},
		{"uncongested grows past the spare", 600_000, false, 5 * time.Second, 5_000_000, 1e12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &fakeBudget{spare: tc.spare, congested: tc.congested}
			p := newDataPacer(src)
			rate, _ := sendFor(p, time.Unix(1000, 0), tc.d)
			if rate < tc.lo || rate > tc.hi {
				t.Fatalf("rate over the second half %.0f bit/s, want %.0f-%.0f", rate, tc.lo, tc.hi)
			}
			if src.counted == 0 {
				t.Fatal("nothing counted to the estimator")
			}
		})
	}
}

// A transfer that grew while the path was clear falls back to the spare
// as soon as congestion is reported.
func TestDataPacerBacksOff(t *testing.T) {
	src := &fakeBudget{spare: 600_000}
	p := newDataPacer(src)
	grown, now := sendFor(p, time.Unix(1000, 0), 4*time.Second)
	src.congested = true
	after, _ := sendFor(p, now, 4*time.Second)
	if grown < 2_000_000 || after > 800_000 {
		t.Fatalf("grew to %.0f bit/s, then %.0f under congestion; want > 2 M, then <= 0.8 M", grown, after)
	}
}
