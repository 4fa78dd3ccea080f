package signaling

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound what one client can make the server do. Zero values mean
// unlimited; the server's configuration supplies sane defaults.
type Limits struct {
	// JoinsPerIPPerMinute bounds join attempts (resumes included) from one
	// IP address, with a burst of the same size.
	JoinsPerIPPerMinute int
	// MessagesPerSecond bounds the frames one session may send, with
	// MessageBurst frames allowed at once (a client sends a burst of
	// candidates and tile sizes when it joins).
	MessagesPerSecond float64
	MessageBurst      int
}

// Refusals counts refused requests by reason, for metrics and tests.
type Refusals struct {
	RateLimited   atomic.Uint64 // messages over a session's rate
	JoinsLimited  atomic.Uint64 // joins over an address's rate
	Origin        atomic.Uint64 // sockets from an origin not allowed
	Token         atomic.Uint64 // bad, expired or foreign tokens
	RoomFull      atomic.Uint64
	ServerFull    atomic.Uint64
	SlowClients   atomic.Uint64 // sessions closed because their queue filled
	Violations    atomic.Uint64 // sessions closed for abuse (size, rate)
	TooManyTracks atomic.Uint64
}

// Snapshot returns the counters by wire code or reason.
func (r *Refusals) Snapshot() map[string]uint64 {
	return map[string]uint64{
		CodeRateLimited:   r.RateLimited.Load(),
		"join_rate":       r.JoinsLimited.Load(),
		"origin":          r.Origin.Load(),
		CodeBadToken:      r.Token.Load(),
		CodeRoomFull:      r.RoomFull.Load(),
		CodeServerFull:    r.ServerFull.Load(),
		"slow_client":     r.SlowClients.Load(),
		"violation":       r.Violations.Load(),
		"too_many_tracks": r.TooManyTracks.Load(),
	}
}

// bucket is a token bucket: rate tokens a second up to burst. Not safe for
// concurrent use; the owner locks or owns it.
type bucket struct {
	tokens float64
	last   time.Time
}

// take refills the bucket up to now and takes one token if there is one.
func (b *bucket) take(now time.Time, rate float64, burst int) bool {
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(float64(burst), b.tokens+dt*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// full reports whether the bucket has refilled completely by now, i.e.
// forgetting it changes nothing.
func (b *bucket) full(now time.Time, rate float64, burst int) bool {
	return b.tokens+now.Sub(b.last).Seconds()*rate >= float64(burst)
}

// maxTrackedIPs bounds the per-address join limiter's memory. Past it,
// idle addresses are forgotten, and if none is idle the table starts over:
// a flood of distinct addresses weakens the limit rather than growing the
// server without bound.
const maxTrackedIPs = 1 << 16

// ipLimiter bounds join attempts per remote address.
type ipLimiter struct {
	perMinute int
	mu        sync.Mutex
	buckets   map[netip.Addr]*bucket
}

func newIPLimiter(perMinute int) *ipLimiter {
	return &ipLimiter{perMinute: perMinute, buckets: make(map[netip.Addr]*bucket)}
}

// allow reports whether addr may make one more attempt now.
func (l *ipLimiter) allow(addr netip.Addr, now time.Time) bool {
	if l == nil || l.perMinute <= 0 {
		return true
	}
	rate := float64(l.perMinute) / 60
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[addr]
	if !ok {
		if len(l.buckets) >= maxTrackedIPs {
			l.sweepLocked(now, rate)
		}
		b = &bucket{}
		l.buckets[addr] = b
	}
	return b.take(now, rate, l.perMinute)
}

func (l *ipLimiter) sweepLocked(now time.Time, rate float64) {
	for a, b := range l.buckets {
		if b.full(now, rate, l.perMinute) {
			delete(l.buckets, a)
		}
	}
	if len(l.buckets) >= maxTrackedIPs {
		clear(l.buckets)
	}
}

// remoteAddr is the IP address of a link's peer, from its "host:port"
// (the zero Addr when it has none, e.g. a pipe in tests: all such peers
// share one bucket).
func remoteAddr(hostport string) netip.Addr {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
