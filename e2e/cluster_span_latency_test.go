package e2e

import (
	"hash/fnv"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cluster/redistest"
	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// latencyProbe timestamps audio payloads as a publisher sends them and as
// subscribers receive them. The SFU forwards audio payloads unchanged, so
// a payload's hash names the same packet at both ends (the bots share this
// process, hence one clock).
type latencyProbe struct {
	mu   sync.Mutex
	sent map[uint64]time.Time
}

func payloadKey(b []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(b)
	return h.Sum64()
}

// sender records what a publisher sends.
func (p *latencyProbe) sender() *probeSide { return &probeSide{p: p, send: true} }

// receiver collects the latencies of what one subscriber receives.
func (p *latencyProbe) receiver() *probeSide { return &probeSide{p: p} }

type probeSide struct {
	interceptor.NoOp
	p    *latencyProbe
	send bool

	mu  sync.Mutex
	got []time.Duration
}

func (s *probeSide) NewInterceptor(string) (interceptor.Interceptor, error) { return s, nil }

func (s *probeSide) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if !s.send || info.MimeType != "audio/opus" {
		return w
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		k, now := payloadKey(payload), time.Now()
		s.p.mu.Lock()
		if s.p.sent == nil {
			s.p.sent = make(map[uint64]time.Time)
		}
		s.p.sent[k] = now
		s.p.mu.Unlock()
		return w.Write(h, payload, a)
	})
}

func (s *probeSide) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	if s.send || info.MimeType != "audio/opus" {
		return r
	}
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		var pkt rtp.Packet
		if err == nil && pkt.Unmarshal(b[:n]) == nil {
			now, k := time.Now(), payloadKey(pkt.Payload)
			s.p.mu.Lock()
			at, ok := s.p.sent[k]
			s.p.mu.Unlock()
			if ok && now.Sub(at) < time.Second {
				s.mu.Lock()
				s.got = append(s.got, now.Sub(at))
				s.mu.Unlock()
			}
		}
		return n, a, err
	})
}

// percentiles returns p50 and p95 of what the side measured.
func (s *probeSide) percentiles() (n int, p50, p95 time.Duration) {
	s.mu.Lock()
	d := slices.Clone(s.got)
	s.mu.Unlock()
	if len(d) == 0 {
		return 0, 0, 0
	}
	slices.Sort(d)
	return len(d), d[len(d)/2], d[len(d)*95/100]
}

// The latency a cross-node relay adds: a publisher on node a, one
// subscriber on a (direct) and one on b (through the relay). Audio packets
// are matched publisher -> subscriber by payload.
func TestClusterRelayLatency(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startSpanNode(t, rs.Addr(), "a"), startSpanNode(t, rs.Addr(), "b")
	ctx := deadline(t, 60*time.Second)
	waitFor(ctx, t, "both nodes live", func() bool { return len(liveNodes(ctx, a)) == 2 })

	probe := &latencyProbe{}
	sendSide, direct, relayed := probe.sender(), probe.receiver(), probe.receiver()
	with := func(s *probeSide) func(*interceptor.Registry) {
		return func(r *interceptor.Registry) { r.Add(s) }
	}
	pub := spanBot(ctx, t, bot.Config{URL: a.url, Room: "lat", Identity: "pub", Publish: true, Speaking: func(time.Duration) bool { return true }, Interceptors: with(sendSide)})
	subA := spanBot(ctx, t, bot.Config{URL: a.url, Room: "lat", Identity: "subA", Subscribe: true, Interceptors: with(direct)})
	subB := spanBot(ctx, t, bot.Config{URL: b.url, Room: "lat", Identity: "subB", Subscribe: true, Interceptors: with(relayed)})
	for _, s := range []*bot.Bot{subA, subB} {
		if _, err := s.WaitStats(ctx, func(x bot.Stats) bool { return videoFrom(x, pub.Self().SID) >= 90 }); err != nil {
			t.Fatalf("%s: %v", s.Self().Identity, err)
		}
	}
	nd, d50, d95 := direct.percentiles()
	nr, r50, r95 := relayed.percentiles()
	t.Logf("publisher -> subscriber audio latency on loopback: direct (same node) p50 %v p95 %v over %d packets; through the relay (other node) p50 %v p95 %v over %d packets",
		d50, d95, nd, r50, r95, nr)
	if nd < 50 || nr < 50 {
		t.Fatalf("too few matched packets: direct %d, relayed %d", nd, nr)
	}
	// One more SRTP hop and read loop on loopback: a few milliseconds at
	// most, far from a jitter buffer's worth.
	if r50 > d50+20*time.Millisecond {
		t.Errorf("the relay adds %v at p50", r50-d50)
	}
}
