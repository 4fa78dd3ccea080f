package bwe

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeSource is a BandwidthSource the test steers.
type fakeSource struct {
	mu        sync.Mutex
	st        EstimatorStats
	changed   chan struct{}
	probes    []int
	probing   bool
	allocated int
}

func newFakeSource(est, validated int) *fakeSource {
	return &fakeSource{st: EstimatorStats{Estimate: est, Validated: validated}, changed: make(chan struct{}, 1)}
}

func (f *fakeSource) Stats() EstimatorStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}
func (f *fakeSource) Changed() <-chan struct{} { return f.changed }
func (f *fakeSource) StartProbe(target int, _ ProbePurpose) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probes = append(f.probes, target)
	return true
}
func (f *fakeSource) ProbeShortfall() (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return 0, f.probing
}
func (f *fakeSource) SetAllocated(bps int) {
	f.mu.Lock()
	f.allocated = bps
	f.mu.Unlock()
}

// fakeSub records targets.
type fakeSub struct {
	mu      sync.Mutex
	info    SubscriptionInfo
	targets []Target
	set     chan Target
}

func (s *fakeSub) Info() SubscriptionInfo { return s.info }
func (s *fakeSub) SetTarget(t Target) {
	s.mu.Lock()
	s.targets = append(s.targets, t)
	s.mu.Unlock()
	s.set <- t
}
func (s *fakeSub) WritePadding(int) int { return 0 }

func runAllocator(t *testing.T, src *fakeSource, subs ...*fakeSub) {
	t.Helper()
	a, err := NewAllocator(src, func() []Subscription {
		out := make([]Subscription, len(subs))
		for i, s := range subs {
			out[i] = s
		}
		return out
	}, WithAllocationInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	a.Trigger()
}

func waitTarget(t *testing.T, s *fakeSub) Target {
	t.Helper()
	select {
	case tg := <-s.set:
		return tg
	case <-time.After(5 * time.Second):
		t.Fatal("no target set")
		return Target{}
	}
}

// A new subscription starts at the best step the estimate and the proven
// rate allow; a higher one waits for a probe.
func TestAllocatorProbesBeforeUpgrade(t *testing.T) {
	src := newFakeSource(5_000_000, 600_000)
	v := &fakeSub{info: camera("v", "A", 1280, 720), set: make(chan Target, 4)}
	runAllocator(t, src, v)
	if tg := waitTarget(t, v); tg.Spatial != 0 {
		t.Fatalf("first target %+v, want the lowest layer before any probe", tg)
	}
	src.mu.Lock()
	probes := append([]int(nil), src.probes...)
	src.mu.Unlock()
	if len(probes) == 0 || probes[0] < 1_300_000 {
		t.Fatalf("probes %v, want one toward the top layer", probes)
	}
	// The probe succeeded: the proven rate covers the top layer.
	src.mu.Lock()
	src.st.Validated = 2_000_000
	src.mu.Unlock()
	src.changed <- struct{}{}
	if tg := waitTarget(t, v); tg.Spatial != 2 {
		t.Fatalf("target after the probe %+v, want the top layer", tg)
	}
}

// topLayerCamera runs an allocator on a 2 Mbit/s estimate with one
// 1280x720 camera and waits for its first target, the top layer.
func topLayerCamera(t *testing.T) (*fakeSource, *fakeSub) {
	t.Helper()
	src := newFakeSource(2_000_000, 2_000_000)
	v := &fakeSub{info: camera("v", "A", 1280, 720), set: make(chan Target, 4)}
	runAllocator(t, src, v)
	if tg := waitTarget(t, v); tg.Spatial != 2 {
		t.Fatalf("first target %+v", tg)
	}
	return src, v
}

// When the estimate collapses, tracks that no longer fit are paused and
// the downgrade is immediate.
func TestAllocatorPausesAndDowngradesImmediately(t *testing.T) {
	src, v := topLayerCamera(t)
	// Over the estimate without a congestion signal (it has not grown
	// yet): the downgrade waits for the keyframe.
	src.mu.Lock()
	src.st.Estimate = 800_000
	src.mu.Unlock()
	src.changed <- struct{}{}
	if tg := waitTarget(t, v); tg.Spatial != 1 || tg.Immediate || tg.Hold != 0 {
		t.Fatalf("target without congestion %+v, want layer 1 at its keyframe", tg)
	}
	src.mu.Lock()
	src.st.Estimate = 300_000
	src.st.DecreasedAt = time.Now()
	src.st.QueueDelay = 700 * time.Millisecond
	src.mu.Unlock()
	src.changed <- struct{}{}
	// The keyframe waits for the full queue to make room for it.
	if tg := waitTarget(t, v); tg.Spatial != 0 || !tg.Immediate || tg.Hold != maxKeyframeHold {
		t.Fatalf("target after the drop %+v, want layer 0 at once, held %v", tg, maxKeyframeHold)
	}
	src.mu.Lock()
	// A dip just under the lowest layer keeps it (pausing video is the
	// most visible choice); far under it, the track is paused.
	src.st.Estimate = 150_000
	src.mu.Unlock()
	src.changed <- struct{}{}
	select {
	case tg := <-v.set:
		t.Fatalf("target %+v after a small dip, want layer 0 kept", tg)
	case <-time.After(300 * time.Millisecond): // three allocation rounds
	}
	src.mu.Lock()
	src.st.Estimate = 50_000
	src.mu.Unlock()
	src.changed <- struct{}{}
	if tg := waitTarget(t, v); tg.Spatial >= 0 {
		t.Fatalf("target %+v, want a pause", tg)
	}
}

// A congested downgrade is immediate only with a queue standing at the
// bottleneck: an estimate cut by over-use read from jitter leaves the old
// layer's packets delaying nothing, and cutting them freezes the video.
func TestAllocatorImmediateNeedsQueue(t *testing.T) {
	for _, c := range []struct {
		name      string
		queue     time.Duration
		immediate bool
	}{
		{"no queue", 0, false},
		{"jitter", immediateMinQueue - time.Millisecond, false},
		{"standing queue", immediateMinQueue, true},
		{"full queue", 700 * time.Millisecond, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, v := topLayerCamera(t)
			src.mu.Lock()
			src.st.Estimate = 800_000
			src.st.DecreasedAt = time.Now()
			src.st.QueueDelay = c.queue
			src.mu.Unlock()
			src.changed <- struct{}{}
			tg := waitTarget(t, v)
			if tg.Spatial != 1 || tg.Immediate != c.immediate {
				t.Fatalf("target %+v, want layer 1, immediate %v", tg, c.immediate)
			}
		})
	}
}

// paddingSub is a video subscription whose padding goes out through an
// estimatorRig's stream, as sfu.DownTrack's goes through its connection.
type paddingSub struct {
	r    *estimatorRig
	info SubscriptionInfo
}

func (s *paddingSub) Info() SubscriptionInfo { return s.info }
func (s *paddingSub) SetTarget(Target)       {}
func (s *paddingSub) WritePadding(n int) int {
	sent := 0
	for sent < n {
		s.r.write(s.r.seq, 255)
		sent += 255 + 12
	}
	return sent
}

// A probe pads up to its target whatever the media really sends. Here the
// layer's average says 300 kbit/s and the publisher sends nothing (one
// temporal layer, or a publisher recovering from an ICE restart, sends far
// less than the average): padding computed as the target minus the
// allocation's expected media left a 600 kbit/s probe at about half its
// target, every probe failed, and the allocation never rose.
func TestAllocatorProbeReachesTarget(t *testing.T) {
	r := newRig(t, true, WithInitialBitrate(400_000))
	sub := &paddingSub{r: r, info: SubscriptionInfo{
		TrackID: "v", PublisherID: "A", Width: 320, Height: 180, MaxLayer: -1,
		Layers: []Layer{{Width: 320, Height: 180, BitrateBps: 300_000, Live: true}},
	}}
	a, err := NewAllocator(r.e, func() []Subscription { return []Subscription{sub} }, WithAllocatorClock(r.clock.now))
	if err != nil {
		t.Fatal(err)
	}
	a.allocate()
	if _, ok := a.applied["v"]; !ok {
		t.Fatal("no allocation for the track")
	}
	// The track has all its tile wants, so allocate started the headroom
	// probe: twice its 300 kbit/s.
	const target = 600_000
	if got, ok := r.e.Probing(); !ok || got != target {
		t.Fatalf("probing %d (%v), want the headroom probe to %d", got, ok, target)
	}
	for range int(probeDuration / padInterval) {
		r.clock.add(padInterval)
		a.pad()
	}
	want := target * probeDuration.Seconds() / 8
	if sent := r.e.probe.cur.sent; float64(sent) < 0.9*want || float64(sent) > 1.2*want {
		t.Fatalf("probe sent %d bytes, want about %.0f (%d bit/s for %v)", sent, want, target, probeDuration)
	}
}

// Once every track has what its tile wants, one probe goes to twice the
// allocation, so the estimate has room for what comes next; it is not
// repeated for the same allocation within headroomInterval.
func TestAllocatorHeadroomProbe(t *testing.T) {
	now := time.Unix(1000, 0)
	src := newFakeSource(2_000_000, 2_000_000)
	v := &fakeSub{info: camera("v", "A", 1280, 720), set: make(chan Target, 4)}
	s := &fakeSub{info: audio("s"), set: make(chan Target, 4)}
	a, err := NewAllocator(src, func() []Subscription { return []Subscription{v, s} },
		WithAllocatorClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	probes := func() []int {
		src.mu.Lock()
		defer src.mu.Unlock()
		return append([]int(nil), src.probes...)
	}
	a.allocate()
	if tg := waitTarget(t, v); tg.Spatial != 2 {
		t.Fatalf("target %+v, want the top layer", tg)
	}
	const total = 1_300_000 + 40_000
	if p := probes(); len(p) != 1 || p[0] != 2*total {
		t.Fatalf("probes %v, want one headroom probe to %d", p, 2*total)
	}
	now = now.Add(5 * time.Second)
	a.allocate()
	if p := probes(); len(p) != 1 {
		t.Fatalf("probes %v, want no second headroom probe for the same allocation", p)
	}
	now = now.Add(headroomInterval)
	a.allocate()
	if p := probes(); len(p) != 2 || p[1] != 2*total {
		t.Fatalf("probes %v, want another after %v", p, headroomInterval)
	}
	// An estimate already twice the allocation needs no probe.
	b, err := NewAllocator(newFakeSource(3_000_000, 3_000_000), func() []Subscription { return []Subscription{v, s} })
	if err != nil {
		t.Fatal(err)
	}
	b.allocate()
	if p := b.src.(*fakeSource).probes; len(p) != 0 {
		t.Fatalf("probes %v with a 3 Mbit/s estimate for %d bit/s", p, total)
	}
}
