package sfu

import (
	"sync"
	"time"
)

// Bounds of the keyframe request interval. Below 200 ms a publisher could
// be asked again before its first keyframe even arrived; above 1 s a
// subscriber whose request was swallowed stays frozen too long.
const (
	minKeyframeInterval = 200 * time.Millisecond
	maxKeyframeInterval = time.Second
)

// KeyframeThrottle coalesces keyframe requests (PLI/FIR) from all
// subscribers of one published track: many subscribers switching layers at
// once must not become a PLI storm toward the publisher, which would spend
// its uplink on keyframes. It allows at most one request per layer per
// interval, where the interval is twice the publisher RTT (time for a
// keyframe to come back) clamped to 200 ms .. 1 s. The zero value is ready
// to use with the 200 ms minimum. Time is passed in, never read, so tests
// are deterministic. Safe for concurrent use.
type KeyframeThrottle struct {
	mu   sync.Mutex
	rtt  time.Duration
	last [MaxSpatialLayers]time.Time
	sent [MaxSpatialLayers]bool
}

// SetRTT updates the publisher round-trip time used to size the interval.
func (k *KeyframeThrottle) SetRTT(rtt time.Duration) {
	k.mu.Lock()
	k.rtt = rtt
	k.mu.Unlock()
}

// Interval returns the current minimum time between two requests for one
// layer.
func (k *KeyframeThrottle) Interval() time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.interval()
}

func (k *KeyframeThrottle) interval() time.Duration {
	return max(minKeyframeInterval, min(2*k.rtt, maxKeyframeInterval))
}

// Allow reports whether a keyframe request for layer may be sent now, and
// if so records it. Layers outside 0..2 are never allowed.
func (k *KeyframeThrottle) Allow(layer int, now time.Time) bool {
	if layer < 0 || layer >= MaxSpatialLayers {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sent[layer] && now.Sub(k.last[layer]) < k.interval() {
		return false
	}
	k.sent[layer] = true
	k.last[layer] = now
	return true
}
