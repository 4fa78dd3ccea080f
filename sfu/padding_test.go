package sfu

import "testing"

// Padding goes only after a complete frame and takes sequence numbers the
// next media packet continues after, without a hole.
func TestForwarderPadding(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		midFrom bool // ask in the middle of a frame
		wantOK  bool
	}{
		{"after a frame", 3, false, true},
		{"one packet", 1, false, true},
		{"inside a frame", 3, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, 2, nil)
			s.f.SetTarget(1, -1)
			s.step(1)
			s.step()
			last := s.out[len(s.out)-1].d
			if tt.midFrom {
				// Feed only the first packet of the next layer-1 frame.
				pkts := s.layers[1].next(false, s.now+frameNanos)
				s.feed(pkts[0])
				last = s.out[len(s.out)-1].d
			}
			seq, ts, ok := s.f.Padding(tt.n)
			if ok != tt.wantOK {
				t.Fatalf("Padding ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if seq != last.SequenceNumber+1 || ts != last.Timestamp {
				t.Fatalf("padding seq %d ts %d after seq %d ts %d", seq, ts, last.SequenceNumber, last.Timestamp)
			}
			n := len(s.out)
			s.step()
			next := s.out[n].d
			if want := seq + uint16(tt.n); next.SequenceNumber != want {
				t.Fatalf("media after padding has seq %d, want %d", next.SequenceNumber, want)
			}
			for i := n + 1; i < len(s.out); i++ {
				if s.out[i].d.SequenceNumber != s.out[i-1].d.SequenceNumber+1 {
					t.Fatalf("gap after padding at %d", i)
				}
			}
		})
	}
}

// Padding is refused before anything was forwarded, and allowed on a
// paused track whose last frame was complete (the only way to probe a
// subscriber whose video is all paused).
func TestForwarderPaddingStates(t *testing.T) {
	s := newSim(t, 1, nil)
	if _, _, ok := s.f.Padding(1); ok {
		t.Fatal("padding before the first frame")
	}
	s.f.SetTarget(0, -1)
	s.step(0)
	s.f.SetPaused(true)
	if _, _, ok := s.f.Padding(2); !ok {
		t.Fatal("padding refused on a paused track after a complete frame")
	}
	// A muted track stays silent: its subscribers expect nothing on it.
	s.f.SetMuted(true)
	if _, _, ok := s.f.Padding(2); ok {
		t.Fatal("padding on a muted track")
	}
}

// A track paused in the middle of a frame (for bandwidth, or because the
// subscriber went direct) never continues that frame: it resumes at a
// keyframe. Padding must still be allowed there, or a subscriber whose only
// video was paused that way can never be probed back up. The keyframe after
// the padding continues the numbering without a hole.
func TestForwarderPaddingPausedMidFrame(t *testing.T) {
	s := newSim(t, 2, nil)
	s.f.SetTarget(1, -1)
	s.step(1)
	s.step()
	pkts := s.layers[1].next(false, s.now+frameNanos)
	s.feed(pkts[0])
	last := s.out[len(s.out)-1].d
	if _, _, ok := s.f.Padding(1); ok {
		t.Fatal("padding inside a frame that is still being forwarded")
	}
	s.f.SetPaused(true)
	seq, _, ok := s.f.Padding(2)
	if !ok {
		t.Fatal("padding refused on a track paused mid-frame")
	}
	if seq != last.SequenceNumber+1 {
		t.Fatalf("padding seq %d after %d", seq, last.SequenceNumber)
	}
	s.f.SetPaused(false)
	n := len(s.out)
	s.step(1)
	if len(s.out) == n || !s.out[n].d.Switched {
		t.Fatal("no resume at the keyframe")
	}
	if got := s.out[n].d.SequenceNumber; got != seq+2 {
		t.Fatalf("keyframe after padding has seq %d, want %d", got, seq+2)
	}
}

// DropCurrent stops the old layer at once; the switch happens at the
// lower layer's keyframe with continuous numbering.
func TestForwarderDropCurrent(t *testing.T) {
	s := newSim(t, 3, nil)
	s.f.SetTarget(2, -1)
	s.step(2)
	s.step()
	s.f.SetTarget(0, -1)
	s.f.DropCurrent(0)
	n := len(s.out)
	s.step()
	s.step()
	if len(s.out) != n {
		t.Fatalf("%d packets of the old layer forwarded after DropCurrent", len(s.out)-n)
	}
	s.step(0)
	if len(s.out) == n || s.out[n].src.Layer != 0 || !s.out[n].d.Switched {
		t.Fatalf("no switch to layer 0 at its keyframe")
	}
	if s.out[n].d.SequenceNumber != s.out[n-1].d.SequenceNumber+1 {
		t.Fatalf("gap at the switch: %d after %d", s.out[n].d.SequenceNumber, s.out[n-1].d.SequenceNumber)
	}
	// DropCurrent without a lower target does nothing.
	s.f.DropCurrent(0)
	m := len(s.out)
	s.step()
	if len(s.out) == m {
		t.Fatal("DropCurrent at the target stopped the stream")
	}
}
