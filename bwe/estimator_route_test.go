package bwe

import (
	"testing"
	"time"
)

// A route change starts the estimate over: never above the initial value,
// nothing proven, and no queue read against the old path's base delay.
func TestEstimatorRouteChanged(t *testing.T) {
	tests := []struct {
		name      string
		est, want int
	}{
		{"above the initial value: back to it", 3_000_000, 1_000_000},
		{"below it: kept", 300_000, 300_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, true)
			for range 3 { // a queue builds: arrivals at a quarter of the send rate
				r.send(10, 1200, 4*time.Millisecond)
				r.feedback(16*time.Millisecond, 0)
			}
			r.e.mu.Lock()
			r.e.est, r.e.validated = tc.est, tc.est
			r.e.mu.Unlock()
			if st := r.e.Stats(); st.QueueDelay == 0 || st.Acked == 0 {
				t.Fatalf("before: queue %v, acked %d; the test needs both", st.QueueDelay, st.Acked)
			}
			for len(r.e.Changed()) > 0 {
				<-r.e.Changed()
			}
			r.e.RouteChanged()
			st := r.e.Stats()
			if st.Estimate != tc.want || st.Validated > st.Estimate {
				t.Fatalf("after: estimate %d, validated %d; want %d, validated no higher", st.Estimate, st.Validated, tc.want)
			}
			if st.QueueDelay != 0 || st.Acked != 0 || st.Cause != "route changed" {
				t.Fatalf("after: queue %v, acked %d, cause %q; want the old path forgotten", st.QueueDelay, st.Acked, st.Cause)
			}
			select {
			case <-r.e.Changed():
			default:
				t.Fatal("the allocator was not told")
			}
		})
	}
}
