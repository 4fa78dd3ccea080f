package sfu

import (
	"testing"

	"github.com/pion/rtp"
)

// frameNanos is the frame interval of the simulated 30 fps publisher.
const frameNanos = int64(33_333_333)

// layerStream simulates one simulcast layer of a VP8 publisher with
// independent sequence number, timestamp, picture id and TL0PICIDX bases.
type layerStream struct {
	layer   int
	seq     uint16
	ts      uint32
	pid     uint16 // 15-bit
	tl0     uint8
	frame   int
	perFrm  int     // packets per frame
	pattern []uint8 // TID per frame, e.g. {0, 2, 1, 2}; nil: no TID
	noVP8   bool    // plain payload, no VP8 descriptor (e.g. audio)
	pid7    bool    // source sends 7-bit picture ids
}

// next returns the packets of the next frame, arriving at now.
func (s *layerStream) next(key bool, now int64) []*Packet {
	tid, sync := uint8(0), false
	if len(s.pattern) > 0 {
		i := s.frame % len(s.pattern)
		tid = s.pattern[i]
		// Y on the first frame of each TID > 0 after the base frame: it
		// references only the base layer.
		sync = tid > 0
		for j := 1; j < i; j++ {
			sync = sync && s.pattern[j] != tid
		}
		if key {
			tid, sync = 0, false
		}
		if tid == 0 && s.frame > 0 {
			s.tl0++
		}
	}
	out := make([]*Packet, 0, s.perFrm)
	for i := 0; i < s.perFrm; i++ {
		p := &Packet{
			Header: &rtp.Header{
				SequenceNumber: s.seq, Timestamp: s.ts, Marker: i == s.perFrm-1,
			},
			Payload:      []byte{0xff},
			Layer:        s.layer,
			ArrivalNanos: now,
		}
		if !s.noVP8 {
			p.HasVP8 = true
			p.VP8 = VP8Descriptor{
				HeaderSize: 6, S: i == 0, HasPictureID: true, PictureID15: !s.pid7, PictureID: s.pid,
				HasTL0PICIDX: len(s.pattern) > 0, TL0PICIDX: s.tl0,
				HasTID: len(s.pattern) > 0, TID: tid, LayerSync: sync,
				IsKeyframe: key && i == 0,
			}
		}
		p.Keyframe = key && i == 0
		out = append(out, p)
		s.seq++
	}
	s.ts += 3000
	s.pid = (s.pid + 1) & 0x7fff
	if s.pid7 {
		s.pid &= 0x7f
	}
	s.frame++
	return out
}

// sim drives a Forwarder with interleaved layers on a shared clock and
// records what it forwarded.
type sim struct {
	t      *testing.T
	f      *Forwarder
	layers []*layerStream
	now    int64
	out    []fwd
	drops  int
}

// fwd is one forwarded packet: the source and the decision.
type fwd struct {
	src *Packet
	d   Decision
}

func newSim(t *testing.T, n int, pattern []uint8) *sim {
	t.Helper()
	s := &sim{t: t, f: NewForwarder(KindVideo, 90000), now: 1e9}
	for l := 0; l < n; l++ {
		s.layers = append(s.layers, &layerStream{
			layer: l, seq: uint16(1000 * (l + 1)), ts: uint32(50000 * (l + 7)),
			pid: uint16(100 * (l + 1)), tl0: uint8(10 * (l + 1)), perFrm: l + 1, pattern: pattern,
		})
	}
	return s
}

// feed forwards packets, recording the forwarded ones.
func (s *sim) feed(pkts ...*Packet) {
	for _, p := range pkts {
		d := s.f.Forward(p)
		if d.Drop {
			s.drops++
			continue
		}
		s.out = append(s.out, fwd{p, d})
	}
}

// step produces one frame on every layer (keyframes on the listed layers)
// and forwards them, layer by layer.
func (s *sim) step(keyLayers ...int) {
	s.now += frameNanos
	for _, ls := range s.layers {
		key := false
		for _, k := range keyLayers {
			key = key || k == ls.layer
		}
		s.feed(ls.next(key, s.now)...)
	}
}

// checkContinuous asserts the properties a subscriber needs from out,
// assuming in-order delivery without loss: first packet is a keyframe
// start, sequence numbers step by one, timestamps never go back and change
// exactly at frame boundaries, picture ids step by one per frame.
func (s *sim) checkContinuous() {
	s.t.Helper()
	if len(s.out) == 0 {
		s.t.Fatal("nothing forwarded")
	}
	if !s.out[0].src.Keyframe {
		s.t.Fatal("first forwarded packet is not a keyframe start")
	}
	for i := 1; i < len(s.out); i++ {
		a, b := s.out[i-1], s.out[i]
		if b.d.SequenceNumber != a.d.SequenceNumber+1 {
			s.t.Fatalf("packet %d: seq %d after %d", i, b.d.SequenceNumber, a.d.SequenceNumber)
		}
		dts := int32(b.d.Timestamp - a.d.Timestamp)
		newFrame := b.src.Header.Timestamp != a.src.Header.Timestamp || b.src.Layer != a.src.Layer
		if dts < 0 || (dts == 0) == newFrame {
			s.t.Fatalf("packet %d: ts %d after %d (new frame %v)", i, b.d.Timestamp, a.d.Timestamp, newFrame)
		}
		wantPID := a.d.PictureID
		if newFrame {
			wantPID = (wantPID + 1) & 0x7fff
		}
		if b.d.PictureID != wantPID {
			s.t.Fatalf("packet %d: picture id %#x after %#x", i, b.d.PictureID, a.d.PictureID)
		}
	}
}

func TestUnwrapper(t *testing.T) {
	tests := []struct {
		name string
		bits uint8
		in   []uint32
		want []int64
	}{
		{"seq forward wrap", 16, []uint32{65534, 65535, 0, 1}, []int64{65534, 65535, 65536, 65537}},
		{"seq late across wrap", 16, []uint32{65535, 1, 0, 65534}, []int64{65535, 65537, 65536, 65534}},
		{"seq backwards below zero", 16, []uint32{1, 65535}, []int64{1, -1}},
		{"picture id 15 bit", 15, []uint32{0x7ffe, 0x7fff, 0, 3}, []int64{0x7ffe, 0x7fff, 0x8000, 0x8003}},
		{"picture id 7 bit", 7, []uint32{126, 127, 0}, []int64{126, 127, 128}},
		{"tl0", 8, []uint32{255, 0, 1}, []int64{255, 256, 257}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u unwrapper
			u.reset(tt.in[0], tt.bits)
			for i, v := range tt.in {
				if got := u.update(v); got != tt.want[i] {
					t.Fatalf("update(%d) #%d = %d, want %d", v, i, got, tt.want[i])
				}
			}
		})
	}
}

func TestOffsetMap(t *testing.T) {
	type op struct {
		drop bool
		src  int64
		want int64 // for lookups; -1: not mappable
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"identity", []op{{false, 10, 100}, {false, 11, 101}, {false, 13, 103}, {false, 12, 102}}},
		{"drop closes the hole", []op{{false, 10, 100}, {true, 11, 0}, {false, 12, 101}, {false, 11, -1}}},
		{"drop run merges", []op{{false, 10, 100}, {true, 11, 0}, {true, 12, 0}, {true, 13, 0}, {false, 14, 101}}},
		{"late packet before a drop keeps its slot", []op{
			{false, 10, 100}, {true, 12, 0}, {false, 13, 102}, {false, 11, 101},
		}},
		{"older than the start", []op{{false, 10, 100}, {false, 9, -1}}},
		{"late drop leaves a hole", []op{{false, 10, 100}, {false, 12, 102}, {true, 11, 0}, {false, 13, 103}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m offsetMap
			m.reset(10, 100)
			for i, o := range tt.ops {
				if o.drop {
					m.drop(o.src)
					continue
				}
				got, ok := m.lookup(o.src, true)
				if !ok {
					got = -1
				} else {
					m.see(o.src)
				}
				if got != o.want {
					t.Fatalf("op %d lookup(%d) = %d, want %d", i, o.src, got, o.want)
				}
			}
		})
	}
}

func TestOffsetMapForgetsOldRanges(t *testing.T) {
	var m offsetMap
	m.reset(0, 0)
	for i := int64(1); i <= 2*mungerRanges; i += 2 {
		m.see(i)
		m.drop(i + 1)
	}
	if _, ok := m.lookup(1, true); ok {
		t.Fatal("a packet older than the remembered ranges was mapped")
	}
	high := int64(2 * mungerRanges)
	// Odd values are forwarded, even ones dropped: 2k+1 maps to k+1.
	if got, ok := m.lookup(high-1, true); !ok || got != high/2 {
		t.Fatalf("recent late packet: got %d %v, want %d", got, ok, high/2)
	}
	if got := m.next(); got != high/2+1 {
		t.Fatalf("next = %d, want %d", got, high/2+1)
	}
}

func TestMungerTimestampAtSwitch(t *testing.T) {
	tests := []struct {
		name     string
		gapNanos int64
		wantStep uint32
	}{
		{"one frame later", frameNanos, 2999},
		{"same instant", 0, 1},
		{"arrival going back", -5, 1},
		{"one second freeze", 1e9, 90000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := munger{clockRate: 90000}
			a := &Packet{Header: &rtp.Header{SequenceNumber: 65535, Timestamp: 0xffffff00}, ArrivalNanos: 5e9}
			m.switchTo(a)
			if _, ok := m.forward(a); !ok {
				t.Fatal("first packet not forwarded")
			}
			b := &Packet{Header: &rtp.Header{SequenceNumber: 7, Timestamp: 1234}, Layer: 1, ArrivalNanos: 5e9 + tt.gapNanos}
			m.switchTo(b)
			out, ok := m.forward(b)
			if !ok {
				t.Fatal("switch packet not forwarded")
			}
			if out.seq != 0 || out.ts-0xffffff00 != tt.wantStep {
				t.Fatalf("got seq %d ts step %d, want 0 and %d", out.seq, out.ts-0xffffff00, tt.wantStep)
			}
		})
	}
}
