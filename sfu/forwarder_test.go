package sfu

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/goleak"
)

func TestForwarderKeyframeGating(t *testing.T) {
	tests := []struct {
		name   string
		target int
		steps  [][]int // keyframe layers per step
		wantN  int     // packets forwarded
	}{
		{"no keyframe, nothing", 1, [][]int{nil, nil, nil}, 0},
		{"keyframe on another layer only", 1, [][]int{{0}, {2}, nil}, 0},
		{"starts at target keyframe", 1, [][]int{nil, {1}, nil}, 4},
		{"keyframe on every layer starts at target", 2, [][]int{{0, 1, 2}, nil}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, 3, nil)
			s.f.SetTarget(tt.target, -1)
			if l, ok := s.f.NeedsKeyframe(); !ok || l != tt.target {
				t.Fatalf("NeedsKeyframe = %d %v before start", l, ok)
			}
			for _, k := range tt.steps {
				s.step(k...)
			}
			if len(s.out) != tt.wantN {
				t.Fatalf("forwarded %d packets, want %d", len(s.out), tt.wantN)
			}
			if tt.wantN == 0 {
				if s.f.Current() != -1 {
					t.Fatalf("Current = %d, want -1", s.f.Current())
				}
				return
			}
			s.checkContinuous()
			if !s.out[0].d.Switched || s.f.Current() != tt.target {
				t.Fatalf("Switched %v Current %d", s.out[0].d.Switched, s.f.Current())
			}
			if _, ok := s.f.NeedsKeyframe(); ok {
				t.Fatal("NeedsKeyframe after starting on the target")
			}
			// The first layer keeps its own numbering: nothing to rewrite.
			if s.out[0].d.RewriteVP8 || s.out[0].d.PictureID != s.out[0].src.VP8.PictureID {
				t.Fatalf("first layer rewritten: %+v", s.out[0].d)
			}
			for _, o := range s.out {
				if o.src.Layer != tt.target {
					t.Fatalf("forwarded layer %d", o.src.Layer)
				}
			}
		})
	}
}

func TestForwarderSwitch(t *testing.T) {
	tests := []struct {
		name     string
		from, to int
		pattern  []uint8
	}{
		{"up 0 to 2", 0, 2, nil},
		{"down 2 to 0", 2, 0, nil},
		{"up 1 to 2 with temporal layers", 1, 2, []uint8{0, 2, 1, 2}},
		{"down 2 to 1 with temporal layers", 2, 1, []uint8{0, 2, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, 3, tt.pattern)
			s.f.SetTarget(tt.from, -1)
			s.step(tt.from)
			for range 5 {
				s.step()
			}
			s.f.SetTarget(tt.to, -1)
			if l, ok := s.f.NeedsKeyframe(); !ok || l != tt.to {
				t.Fatalf("NeedsKeyframe = %d %v after SetTarget", l, ok)
			}
			// Until the new layer sends a keyframe the old one continues,
			// even when the old layer sends keyframes.
			s.step(tt.from)
			s.step()
			if s.f.Current() != tt.from {
				t.Fatalf("switched before a keyframe of the new layer: %d", s.f.Current())
			}
			n := len(s.out)
			s.step(tt.to)
			for range 5 {
				s.step()
			}
			s.checkContinuous()
			if s.f.Current() != tt.to {
				t.Fatalf("Current = %d, want %d", s.f.Current(), tt.to)
			}
			before := n
			for !s.out[before].d.Switched {
				before++
			}
			sw, last := s.out[before], s.out[before-1]
			if sw.src.Layer != tt.to || !sw.src.Keyframe || !sw.d.RewriteVP8 {
				t.Fatalf("first packet after switch: %+v from layer %d", sw.d, sw.src.Layer)
			}
			// The new layer's keyframe lands the arrival time difference
			// (in 90 kHz ticks, at least 1) after the last forwarded frame.
			wantStep := max(1, uint32((sw.src.ArrivalNanos-last.src.ArrivalNanos)*9/100000))
			if step := sw.d.Timestamp - last.d.Timestamp; step != wantStep {
				t.Fatalf("timestamp step at switch %d, want %d", step, wantStep)
			}
			if tt.pattern != nil && sw.d.TL0PICIDX != last.d.TL0PICIDX+1 {
				t.Fatalf("TL0PICIDX %d after %d", sw.d.TL0PICIDX, last.d.TL0PICIDX)
			}
			for _, o := range s.out[before:] {
				if o.src.Layer != tt.to {
					t.Fatalf("layer %d forwarded after switching to %d", o.src.Layer, tt.to)
				}
			}
		})
	}
}

func TestForwarderLayerStopped(t *testing.T) {
	tests := []struct {
		name     string
		target   int
		stop     []int
		keyLayer int
		want     int // layer forwarded after the keyframe
		wantNeed int // NeedsKeyframe layer after stopping
	}{
		{"fallback to next lower", 2, []int{2}, 1, 1, 1},
		{"fallback to any lower keyframe first", 2, []int{2}, 0, 0, 1},
		{"two layers stopped", 2, []int{2, 1}, 0, 0, 0},
		{"other layer stopped: no switch", 2, []int{1}, 0, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, 3, nil)
			s.f.SetTarget(tt.target, -1)
			s.step(tt.target)
			s.step()
			for _, l := range tt.stop {
				s.f.LayerStopped(l)
			}
			stopped := tt.stop[0] == tt.target
			if l, ok := s.f.NeedsKeyframe(); ok != stopped || (ok && l != tt.wantNeed) {
				t.Fatalf("NeedsKeyframe = %d %v", l, ok)
			}
			// The stopped layers send nothing more.
			live := s.layers[:0:0]
			for _, ls := range s.layers {
				keep := true
				for _, l := range tt.stop {
					keep = keep && ls.layer != l
				}
				if keep {
					live = append(live, ls)
				}
			}
			s.layers = live
			s.step(tt.keyLayer)
			s.step()
			s.checkContinuous()
			if s.f.Current() != tt.want {
				t.Fatalf("Current = %d, want %d", s.f.Current(), tt.want)
			}
		})
	}
}

func TestForwarderLayerResumesAfterStop(t *testing.T) {
	s := newSim(t, 3, nil)
	s.f.SetTarget(2, -1)
	s.step(2)
	s.f.LayerStopped(2)
	hi := s.layers[2]
	s.layers = s.layers[:2]
	s.step(0)
	if s.f.Current() != 0 {
		t.Fatalf("Current = %d after fallback, want 0", s.f.Current())
	}
	s.layers = append(s.layers, hi)
	s.step()
	if l, ok := s.f.NeedsKeyframe(); !ok || l != 2 {
		t.Fatalf("NeedsKeyframe = %d %v once layer 2 is back", l, ok)
	}
	s.step(2)
	s.step()
	s.checkContinuous()
	if s.f.Current() != 2 {
		t.Fatalf("Current = %d, want 2", s.f.Current())
	}
}

func TestForwarderAbsentLayer(t *testing.T) {
	// A non-simulcast publisher: only layer 0 ever arrives while the
	// subscriber targets the default (highest) layer.
	s := newSim(t, 1, nil)
	s.step(0)
	if len(s.out) != 0 {
		t.Fatal("started on a lower layer before the grace period")
	}
	for range 31 {
		s.step()
	}
	s.step(0)
	s.step()
	s.checkContinuous()
	if s.f.Current() != 0 {
		t.Fatalf("Current = %d, want 0", s.f.Current())
	}
}

func TestForwarderMuteAndPause(t *testing.T) {
	tests := []struct {
		name string
		set  func(f *Forwarder, on bool)
	}{
		{"muted", (*Forwarder).SetMuted},
		{"paused", (*Forwarder).SetPaused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, 2, nil)
			s.f.SetTarget(1, -1)
			s.step(1)
			s.step()
			n := len(s.out)
			tt.set(s.f, true)
			if s.f.Current() != -1 {
				t.Fatal("Current != -1 while stopped")
			}
			if _, ok := s.f.NeedsKeyframe(); ok {
				t.Fatal("keyframe requested while stopped")
			}
			s.step(1)
			s.step()
			if len(s.out) != n {
				t.Fatal("forwarded while stopped")
			}
			tt.set(s.f, false)
			s.step() // delta frames wait for the keyframe
			if len(s.out) != n {
				t.Fatal("delta frame forwarded before the resume keyframe")
			}
			if l, ok := s.f.NeedsKeyframe(); !ok || l != 1 {
				t.Fatalf("NeedsKeyframe = %d %v after resume", l, ok)
			}
			s.step(1)
			s.step()
			s.checkContinuous()
			if !s.out[n].d.Switched {
				t.Fatal("resume not flagged as a switch")
			}
			// 4 frames passed between the last forwarded and the resume.
			if step := s.out[n].d.Timestamp - s.out[n-1].d.Timestamp; step < 4*2990 || step > 4*3010 {
				t.Fatalf("timestamp step over the pause %d, want about 12000", step)
			}
		})
	}
}

func TestForwarderAudio(t *testing.T) {
	f := NewForwarder(KindAudio, 48000)
	src := &layerStream{seq: 65533, ts: 0xffffff00, perFrm: 1, noVP8: true}
	type ev struct {
		mute   bool
		unmute bool
		drop   bool // expected drop
	}
	script := []ev{{}, {}, {mute: true, drop: true}, {drop: true}, {drop: true}, {unmute: true}, {}, {}}
	var outs []Decision
	var srcs []*Packet
	for i, e := range script {
		if e.mute {
			f.SetMuted(true)
		}
		if e.unmute {
			f.SetMuted(false)
		}
		p := src.next(false, int64(i)*20e6)[0]
		src.ts -= 3000 - 960 // 20 ms of 48 kHz audio per packet
		d := f.Forward(p)
		if d.Drop != e.drop {
			t.Fatalf("packet %d: drop %v, want %v", i, d.Drop, e.drop)
		}
		if !d.Drop {
			outs = append(outs, d)
			srcs = append(srcs, p)
		}
	}
	for i := 1; i < len(outs); i++ {
		if outs[i].SequenceNumber != outs[i-1].SequenceNumber+1 {
			t.Fatalf("audio seq %d after %d: mute left a gap", outs[i].SequenceNumber, outs[i-1].SequenceNumber)
		}
		// Audio timestamps follow the source: the mute shows as time.
		if outs[i].Timestamp-outs[i-1].Timestamp != srcs[i].Header.Timestamp-srcs[i-1].Header.Timestamp {
			t.Fatalf("audio timestamp step changed at %d", i)
		}
	}
	if outs[0].SequenceNumber != 65533 || outs[0].Timestamp != 0xffffff00 {
		t.Fatalf("audio should start with the source numbering, got %+v", outs[0])
	}
}

func TestForwarderConcurrentLayers(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := NewForwarder(KindVideo, 90000)
	f.SetTarget(1, -1)
	var wg sync.WaitGroup
	results := make([][]Decision, 3)
	streams := make([]*layerStream, 3)
	for l := range streams {
		streams[l] = &layerStream{layer: l, seq: uint16(l * 7000), perFrm: 3}
		// All layers are known before the goroutines race, so a slow
		// goroutine's layer is not taken for absent.
		f.Forward(streams[l].next(false, 0)[0])
	}
	for l, ls := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 200; i++ {
				for _, p := range ls.next(i%50 == 1, int64(i)*frameNanos) {
					if d := f.Forward(p); !d.Drop {
						results[l] = append(results[l], d)
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(results[0]) != 0 || len(results[2]) != 0 || len(results[1]) != 600 {
		t.Fatalf("forwarded per layer: %d %d %d", len(results[0]), len(results[1]), len(results[2]))
	}
	for i := 1; i < len(results[1]); i++ {
		if results[1][i].SequenceNumber != results[1][i-1].SequenceNumber+1 {
			t.Fatal("sequence numbers not continuous")
		}
	}
}

func TestForwarderRejectsInvalid(t *testing.T) {
	f := NewForwarder(KindVideo, 90000)
	tests := []struct {
		name string
		p    *Packet
	}{
		{"nil packet", nil},
		{"nil header", &Packet{Keyframe: true}},
		{"negative layer", &Packet{Header: &rtp.Header{}, Layer: -1, Keyframe: true}},
		{"layer too high", &Packet{Header: &rtp.Header{}, Layer: MaxSpatialLayers, Keyframe: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := f.Forward(tt.p); !d.Drop {
				t.Fatalf("forwarded %+v", d)
			}
		})
	}
}

func TestForwarderTarget(t *testing.T) {
	tests := []struct {
		name                 string
		kind                 Kind
		spatial, temporal    int
		wantSpatial, wantTmp int
	}{
		{"video", KindVideo, 1, 0, 1, 0},
		{"clamped high", KindVideo, 7, 9, 2, -1},
		{"clamped low", KindVideo, -3, -1, 0, -1},
		{"audio ignores spatial", KindAudio, 2, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewForwarder(tt.kind, 90000)
			f.SetTarget(tt.spatial, tt.temporal)
			if s, tm := f.Target(); s != tt.wantSpatial || tm != tt.wantTmp {
				t.Fatalf("Target = %d,%d want %d,%d", s, tm, tt.wantSpatial, tt.wantTmp)
			}
		})
	}
}

func BenchmarkForward(b *testing.B) {
	f := NewForwarder(KindVideo, 90000)
	f.SetTarget(2, 1)
	pkts := make([]*Packet, 3)
	for l := range pkts {
		pkts[l] = &Packet{
			Header:  &rtp.Header{SequenceNumber: uint16(l * 1000), Timestamp: uint32(l * 77777)},
			Payload: make([]byte, 1000), Layer: l, HasVP8: true, Keyframe: true,
			VP8: VP8Descriptor{HeaderSize: 6, S: true, HasPictureID: true, PictureID15: true,
				HasTL0PICIDX: true, HasTID: true, IsKeyframe: true},
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := pkts[i%3]
		p.ArrivalNanos += 1e6
		if i >= 3 {
			p.Keyframe, p.VP8.IsKeyframe = false, false
			p.Header.SequenceNumber++
			if i%9 < 3 { // a new frame every third packet of a layer
				p.Header.Timestamp += 3000
				p.VP8.PictureID = (p.VP8.PictureID + 1) & 0x7fff
				p.VP8.TID = uint8(i/9) % 3
			}
		}
		f.Forward(p)
		i++
	}
}

// A congestion downgrade with a hold drops the old layer at once but
// neither asks for nor takes the new layer's keyframe until the hold has
// passed (the bottleneck's queue drains first).
func TestForwarderDropCurrentHold(t *testing.T) {
	const hold = 5 * frameNanos
	s := newSim(t, 3, nil)
	s.f.SetTarget(2, -1)
	s.step(2)
	s.step()
	s.f.SetTarget(0, -1)
	s.f.DropCurrent(time.Duration(hold))
	n := len(s.out)
	s.step(0) // starts the hold; a keyframe during it is not taken
	if _, ok := s.f.NeedsKeyframe(); ok {
		t.Fatal("keyframe asked for during the hold")
	}
	for range 3 {
		s.step(0)
	}
	if len(s.out) != n || s.f.Current() != 2 {
		t.Fatalf("forwarded %d packets during the hold (current %d), want none", len(s.out)-n, s.f.Current())
	}
	s.step()
	s.step()
	if l, ok := s.f.NeedsKeyframe(); !ok || l != 0 {
		t.Fatalf("NeedsKeyframe = %d %v after the hold, want layer 0", l, ok)
	}
	s.step(0)
	if s.f.Current() != 0 || len(s.out) == n {
		t.Fatalf("current %d after the hold and a keyframe, want 0", s.f.Current())
	}
	s.checkContinuous()
}
