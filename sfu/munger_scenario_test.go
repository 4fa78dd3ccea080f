package sfu

import (
	"testing"

	"github.com/pion/rtp"
)

// seqs returns the output sequence numbers of the forwarded packets.
func (s *sim) seqs() []uint16 {
	out := make([]uint16, len(s.out))
	for i, o := range s.out {
		out[i] = o.d.SequenceNumber
	}
	return out
}

// frames returns the next n frames of layer l (keyframe first if key).
func (s *sim) frames(l, n int, key bool) [][]*Packet {
	var out [][]*Packet
	for i := range n {
		s.now += frameNanos
		out = append(out, s.layers[l].next(key && i == 0, s.now))
	}
	return out
}

func TestMungerWraparound(t *testing.T) {
	tests := []struct {
		name    string
		seq     uint16
		ts      uint32
		pid     uint16
		pid7    bool
		pattern []uint8
	}{
		{"sequence 65535 to 0", 65530, 1000, 5, false, nil},
		{"timestamp wraps", 100, 0xffff0000, 5, false, nil},
		{"picture id 0x7fff to 0", 100, 1000, 0x7ffd, false, nil},
		{"7-bit picture id becomes continuous 15-bit", 100, 1000, 0x7d, true, nil},
		{"TL0PICIDX wraps", 100, 1000, 5, false, []uint8{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, 2, tt.pattern)
			for _, ls := range s.layers {
				ls.seq, ls.ts, ls.pid, ls.pid7, ls.tl0 = tt.seq, tt.ts, tt.pid, tt.pid7, 250
			}
			s.f.SetTarget(0, -1)
			s.step(0)
			for range 12 {
				s.step()
			}
			// Switch across the wrap of the other layer too.
			s.f.SetTarget(1, -1)
			s.step(1)
			for range 12 {
				s.step()
			}
			s.checkContinuous()
			if s.f.Current() != 1 {
				t.Fatalf("Current = %d", s.f.Current())
			}
			if tt.pid7 {
				last := s.out[len(s.out)-1].d
				if !last.RewriteVP8 || last.PictureID <= 0x7f {
					t.Fatalf("7-bit source not widened: %+v", last)
				}
			}
			if tt.pattern != nil {
				for i := 1; i < len(s.out); i++ {
					a, b := s.out[i-1], s.out[i]
					if b.src.VP8.TID == 0 && b.src.VP8.S && b.d.TL0PICIDX != a.d.TL0PICIDX+1 {
						t.Fatalf("TL0PICIDX %d after %d", b.d.TL0PICIDX, a.d.TL0PICIDX)
					}
				}
			}
		})
	}
}

func TestMungerLossAndReordering(t *testing.T) {
	tests := []struct {
		name  string
		order []int // indexes into 9 packets (3 frames of 3 packets)
		want  []uint16
	}{
		{"in order", []int{0, 1, 2, 3, 4, 5, 6, 7, 8}, []uint16{0, 1, 2, 3, 4, 5, 6, 7, 8}},
		{"loss stays a gap", []int{0, 1, 2, 3, 5, 6, 7, 8}, []uint16{0, 1, 2, 3, 5, 6, 7, 8}},
		{"reordered within a frame", []int{0, 2, 1, 3, 4, 5, 6, 7, 8}, []uint16{0, 2, 1, 3, 4, 5, 6, 7, 8}},
		{"reordered across frames", []int{0, 1, 2, 4, 3, 6, 5, 7, 8}, []uint16{0, 1, 2, 4, 3, 6, 5, 7, 8}},
		{"duplicate", []int{0, 1, 2, 3, 3, 4, 5, 6, 7, 8}, []uint16{0, 1, 2, 3, 3, 4, 5, 6, 7, 8}},
		// Packets before the keyframe start are dropped while waiting; the
		// hole they leave is real to the subscriber, which NACKs it.
		{"packet before the keyframe start leaves a gap", []int{1, 0, 2, 3}, []uint16{0, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, 3, nil)
			s.f.SetTarget(2, -1)
			var pkts []*Packet
			for _, fr := range s.frames(2, 3, true) {
				pkts = append(pkts, fr...)
			}
			base := pkts[0].Header.SequenceNumber
			for _, i := range tt.order {
				s.feed(pkts[i])
			}
			got := s.seqs()
			if len(got) != len(tt.want) {
				t.Fatalf("forwarded %v, want offsets %v", got, tt.want)
			}
			for i := range got {
				if got[i]-base != tt.want[i] {
					t.Fatalf("forwarded %v, want offsets %v from %d", got, tt.want, base)
				}
			}
		})
	}
}

func TestMungerLatePacketsAcrossSwitch(t *testing.T) {
	s := newSim(t, 2, nil)
	s.layers[0].perFrm = 3
	s.f.SetTarget(0, -1)
	old := s.frames(0, 2, true)
	s.feed(old[0]...)
	// Second frame: the middle packet is held back.
	s.feed(old[1][0], old[1][2])
	lastOld := s.out[len(s.out)-1].d.SequenceNumber
	s.f.SetTarget(1, -1)
	newer := s.frames(0, 1, false)[0] // old layer goes on after the switch
	s.feed(s.frames(1, 1, true)[0]...)
	first := s.out[len(s.out)-2].d
	if !first.Switched || first.SequenceNumber != lastOld+1 {
		t.Fatalf("switch packet %+v after %d", first, lastOld)
	}
	n := len(s.out)
	s.feed(old[1][1])
	if len(s.out) != n+1 || s.out[n].d.SequenceNumber != lastOld-1 {
		t.Fatalf("late packet of the old layer not mapped into its slot %d: %v", lastOld-1, s.seqs())
	}
	if s.out[n].d.PictureID != s.out[n-3].d.PictureID || s.out[n].d.Timestamp != s.out[n-3].d.Timestamp {
		t.Fatalf("late packet identity %+v, frame %+v", s.out[n].d, s.out[n-3].d)
	}
	s.feed(newer...)
	if len(s.out) != n+1 {
		t.Fatal("old-layer packets newer than the switch were forwarded")
	}
}

func TestMungerTemporalDrops(t *testing.T) {
	pattern := []uint8{0, 2, 1, 2}
	tests := []struct {
		name   string
		target int
		want   []uint8 // TIDs of the forwarded frames 1..7 (pattern 0 2 1 2)
	}{
		{"base only", 0, []uint8{0}},
		{"two layers", 1, []uint8{1, 0, 1}},
		{"all", -1, []uint8{2, 1, 2, 0, 2, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, 1, pattern)
			s.f.SetTarget(0, tt.target)
			s.step(0)
			for range 7 {
				s.step()
			}
			s.checkContinuous() // no seq or picture id gaps from dropped frames
			var tids []uint8
			for _, o := range s.out[1:] {
				tids = append(tids, o.src.VP8.TID)
			}
			if string(tids) != string(tt.want) {
				t.Fatalf("forwarded TIDs %v, want %v", tids, tt.want)
			}
		})
	}
}

func TestMungerTemporalUpAtLayerSync(t *testing.T) {
	s := newSim(t, 1, []uint8{0, 2, 1, 2})
	s.layers[0].perFrm = 2
	s.f.SetTarget(0, 0)
	s.step(0)
	s.step() // frame 1, TID 2 (sync): dropped
	s.f.SetTarget(0, -1)
	s.step() // frame 2, TID 1 with Y: first TID 1 forwarded
	s.step() // frame 3, TID 2 without Y: still dropped
	s.step() // frame 4, TID 0
	s.step() // frame 5, TID 2 with Y: TID 2 starts
	s.step() // frame 6, TID 1
	var tids []uint8
	for _, o := range s.out {
		if o.src.VP8.S {
			tids = append(tids, o.src.VP8.TID)
		}
	}
	want := []uint8{0, 1, 0, 2, 1}
	if len(tids) != len(want) {
		t.Fatalf("forwarded TIDs %v, want %v", tids, want)
	}
	for i := range want {
		if tids[i] != want[i] {
			t.Fatalf("forwarded TIDs %v, want %v", tids, want)
		}
	}
	s.checkContinuous()
}

func TestMungerTemporalDownKeepsFrameWhole(t *testing.T) {
	s := newSim(t, 1, []uint8{0, 2})
	s.layers[0].perFrm = 3
	s.f.SetTarget(0, -1)
	s.feed(s.frames(0, 1, true)[0]...)
	fr := s.frames(0, 2, false) // TID 2 frame, then TID 0 frame
	s.feed(fr[0][0])
	s.f.SetTarget(0, 0)
	s.feed(fr[0][1], fr[0][2])
	s.feed(fr[1]...)
	if len(s.out) != 9 {
		t.Fatalf("forwarded %d packets, want 9 (the started TID 2 frame completes)", len(s.out))
	}
	next := s.frames(0, 1, false)[0] // TID 2: now dropped
	s.feed(next...)
	if len(s.out) != 9 {
		t.Fatal("TID 2 forwarded after lowering the temporal target")
	}
	// A duplicate of a dropped packet must stay dropped, not collide.
	s.feed(next[1])
	if len(s.out) != 9 {
		t.Fatal("duplicate of an intentionally dropped packet forwarded")
	}
	s.feed(s.frames(0, 1, false)[0]...)
	s.checkContinuous()
}

func TestMungerPaddingLeavesNoGap(t *testing.T) {
	s := newSim(t, 1, nil)
	s.f.SetTarget(0, -1)
	s.feed(s.frames(0, 1, true)[0]...)
	ls := s.layers[0]
	pad := &Packet{Header: &rtp.Header{SequenceNumber: ls.seq, Timestamp: ls.ts - 3000, Padding: true}}
	ls.seq++
	s.feed(pad)
	s.feed(s.frames(0, 1, false)[0]...)
	s.checkContinuous()
}
