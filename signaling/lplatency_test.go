package signaling

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// Request-to-reply latency over long-poll (a POST carries the ping, the
// held GET brings the pong) against a WebSocket, on loopback. It logs the
// figures docs/protocol.md quotes and fails only if long-poll is absurdly
// slow.
func TestLongPollLatency(t *testing.T) {
	h := newHarness(t, nil)
	lp := h.lpOpen(t, nil)
	lp.join(h.token(t, "lat", "lp", AllGrants()))
	ws := h.connect(t)
	ws.join(h.token(t, "lat", "ws", AllGrants()))
	const n = 50
	lpTimes := make([]time.Duration, 0, n)
	wsTimes := make([]time.Duration, 0, n)
	for i := range n {
		id := fmt.Sprintf("lat-%d", i)
		got := make(chan time.Time, 1)
		start := time.Now()
		go func() {
			// The poll may be held before the ping exists, or come after.
			lp.await("pong "+id, func(m *Message) bool { return m.ID == id })
			got <- time.Now()
		}()
		lp.send(&Message{Type: TypePing, ID: id})
		lpTimes = append(lpTimes, (<-got).Sub(start))

		start = time.Now()
		ws.ping()
		wsTimes = append(wsTimes, time.Since(start))
	}
	lp50, lp95 := percentile(lpTimes, 50), percentile(lpTimes, 95)
	t.Logf("ping->pong over long-poll: p50 %v p95 %v; over WebSocket: p50 %v p95 %v",
		lp50, lp95, percentile(wsTimes, 50), percentile(wsTimes, 95))
	if lp50 > 100*time.Millisecond {
		t.Errorf("long-poll p50 %v on loopback", lp50)
	}
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
