package bot

import (
	"math"
	"testing"
	"time"
)

func TestSeqUnwrap(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []uint16
		want []int64
	}{
		{"in order", []uint16{10, 11, 12}, []int64{10, 11, 12}},
		{"wrap", []uint16{65534, 65535, 0, 1}, []int64{65534, 65535, 65536, 65537}},
		{"reorder across wrap", []uint16{65535, 1, 0}, []int64{65535, 65537, 65536}},
		{"old packet", []uint16{100, 90}, []int64{100, 90}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var u seqUnwrapper
			for i, s := range tc.in {
				if got := u.unwrap(s); got != tc.want[i] {
					t.Fatalf("unwrap #%d (%d) = %d, want %d", i, s, got, tc.want[i])
				}
			}
		})
	}
}

func TestLoss(t *testing.T) {
	t0 := time.Unix(0, 0)
	for _, tc := range []struct {
		name     string
		seqs     []uint16
		lost     int64
		expected int64
	}{
		{"none", []uint16{1, 2, 3, 4}, 0, 4},
		{"one of five", []uint16{1, 2, 4, 5}, 1, 5},
		{"reordered", []uint16{1, 3, 2, 4}, 0, 4},
		{"duplicate is not negative loss", []uint16{1, 2, 2, 3}, 0, 3},
		{"across wrap", []uint16{65534, 65535, 1, 2}, 1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRTPStats(90000)
			for i, q := range tc.seqs {
				s.update(q, uint32(i)*3000, 100, t0.Add(time.Duration(i)*33*time.Millisecond))
			}
			if s.lost() != tc.lost || s.expected() != tc.expected {
				t.Errorf("lost %d expected %d, want %d %d", s.lost(), s.expected(), tc.lost, tc.expected)
			}
			wantPct := 100 * float64(tc.lost) / float64(tc.expected)
			if math.Abs(s.lossPct()-wantPct) > 1e-9 {
				t.Errorf("loss %.2f%%, want %.2f%%", s.lossPct(), wantPct)
			}
		})
	}
}

func TestJitter(t *testing.T) {
	t0 := time.Unix(100, 0)
	t.Run("perfect pacing has none", func(t *testing.T) {
		s := newRTPStats(48000)
		for i := range 100 {
			s.update(uint16(i), 1000+uint32(i)*960, 50, t0.Add(time.Duration(i)*20*time.Millisecond))
		}
		if s.jitter > 0.5 {
			t.Errorf("jitter %.2f units, want 0", s.jitter)
		}
	})
	t.Run("alternating 10 ms converges to 10 ms", func(t *testing.T) {
		// Every other packet arrives 10 ms late: |D| = 10 ms each time, so J -> 10 ms.
		s := newRTPStats(48000)
		for i := range 500 {
			late := time.Duration(i%2) * 10 * time.Millisecond
			s.update(uint16(i), uint32(i)*960, 50, t0.Add(time.Duration(i)*20*time.Millisecond+late))
		}
		if got := s.jitterDuration(); got < 9*time.Millisecond || got > 11*time.Millisecond {
			t.Errorf("jitter %v, want ~10ms", got)
		}
	})
	t.Run("timestamp wrap is a small step", func(t *testing.T) {
		s := newRTPStats(90000)
		base := uint32(math.MaxUint32 - 3000*5)
		for i := range 20 {
			s.update(uint16(i), base+uint32(i)*3000, 50, t0.Add(time.Duration(i)*time.Second/30))
		}
		if s.jitterDuration() > time.Millisecond {
			t.Errorf("jitter %v across a timestamp wrap", s.jitterDuration())
		}
	})
}
