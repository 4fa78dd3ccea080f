package bot

import (
	"testing"
	"time"
)

// pkt describes one test packet: seq, timestamp, start-of-frame, marker, keyframe.
type pkt struct {
	seq    int64
	ts     uint32
	start  bool
	marker bool
	key    bool
	at     time.Duration
}

func (p pkt) info(t0 time.Time) rtpPacketInfo {
	v := vp8Packet{Start: p.start, Keyframe: p.key && p.start, PictureID: -1}
	if v.Keyframe {
		v.Width, v.Height = 320, 180
	}
	return rtpPacketInfo{ext: p.seq, ts: p.ts, marker: p.marker, vp8: v, arrival: t0.Add(p.at)}
}

// frame builds the packets of one frame of n packets starting at seq.
func frame(seq int64, ts uint32, n int, key bool) []pkt {
	out := make([]pkt, n)
	for i := range n {
		out[i] = pkt{seq: seq + int64(i), ts: ts, start: i == 0, marker: i == n-1, key: key}
	}
	return out
}

func concat(parts ...[]pkt) []pkt {
	var out []pkt
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func drop(ps []pkt, seqs ...int64) []pkt {
	var out []pkt
next:
	for _, p := range ps {
		for _, s := range seqs {
			if p.seq == s {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

type frameWant struct {
	complete, afterGap, key bool
}

func TestAssembler(t *testing.T) {
	three := concat(frame(10, 0, 3, true), frame(13, 3000, 2, false), frame(15, 6000, 2, false))
	for _, tc := range []struct {
		name    string
		packets []pkt
		want    []frameWant
	}{
		{"in order", three, []frameWant{{true, false, true}, {true, false, false}, {true, false, false}}},
		{"reordered inside a frame", []pkt{
			{seq: 10, ts: 0, start: true, key: true}, {seq: 12, ts: 0, marker: true}, {seq: 11, ts: 0},
			{seq: 13, ts: 3000, start: true, marker: true},
		}, []frameWant{{true, false, true}, {true, false, false}}},
		{"middle packet lost", concat(drop(three, 11), []pkt{{seq: 17, ts: 9000, start: true, marker: true, at: time.Second}}),
			[]frameWant{{false, false, true}, {true, false, false}, {true, false, false}, {true, false, false}}},
		{"head lost", concat(drop(three, 13), []pkt{{seq: 17, ts: 9000, start: true, marker: true, at: time.Second}}),
			[]frameWant{{true, false, true}, {false, true, false}, {true, false, false}, {true, false, false}}},
		// A lost marker cannot be told from a lost frame in between: the
		// next frame is flagged too, which only matters after a complete frame.
		{"marker lost", concat(drop(three, 14), []pkt{{seq: 17, ts: 9000, start: true, marker: true, at: time.Second}}),
			[]frameWant{{true, false, true}, {false, false, false}, {true, true, false}, {true, false, false}}},
		{"whole frame lost", concat(drop(three, 13, 14), []pkt{{seq: 17, ts: 9000, start: true, marker: true, at: time.Second}}),
			[]frameWant{{true, false, true}, {true, true, false}, {true, false, false}}},
		{"duplicates ignored", concat(three[:2], three[1:2], three[2:]),
			[]frameWant{{true, false, true}, {true, false, false}, {true, false, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Unix(0, 0)
			a := newFrameAssembler(defaultHoleWait)
			var got []assembledFrame
			for _, p := range tc.packets {
				got = append(got, a.push(p.info(t0), t0.Add(p.at))...)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d frames %+v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Complete != w.complete || g.AfterGap != w.afterGap || g.Keyframe != w.key {
					t.Errorf("frame %d: complete=%v afterGap=%v key=%v, want %+v", i, g.Complete, g.AfterGap, g.Keyframe, w)
				}
			}
		})
	}
}

// A frame cut short counts as a switch cut only when nothing is missing
// and the next packet starts a keyframe of another size: a layer switch.
func TestAssemblerSwitchCut(t *testing.T) {
	info := func(seq int64, ts uint32, start, marker, key bool, w int) rtpPacketInfo {
		v := vp8Packet{Start: start, Keyframe: key, PictureID: -1}
		if key {
			v.Width, v.Height = w, w*9/16
		}
		return rtpPacketInfo{ext: seq, ts: ts, marker: marker, vp8: v}
	}
	for _, tc := range []struct {
		name    string
		next    rtpPacketInfo // the packet after the cut frame's first two
		wantCut bool
	}{
		{"keyframe of another layer", info(13, 6000, true, true, true, 1280), true},
		{"keyframe of the same size", info(13, 6000, true, true, true, 320), false},
		{"delta frame", info(13, 6000, true, true, false, 0), false},
		{"after a hole", info(14, 6000, true, true, true, 1280), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Unix(0, 0)
			a := newFrameAssembler(0) // give holes up at once
			a.push(info(10, 0, true, true, true, 320), t0)
			a.push(info(11, 3000, true, false, false, 0), t0)
			a.push(info(12, 3000, false, false, false, 0), t0)
			out := a.push(tc.next, t0)
			if len(out) == 0 || out[0].Complete {
				t.Fatalf("cut frame not released as incomplete: %+v", out)
			}
			if out[0].SwitchCut != tc.wantCut {
				t.Errorf("SwitchCut %v, want %v", out[0].SwitchCut, tc.wantCut)
			}
		})
	}
}

func TestAssemblerWaitsForRetransmission(t *testing.T) {
	t0 := time.Unix(0, 0)
	a := newFrameAssembler(defaultHoleWait)
	ps := frame(0, 0, 3, true)
	if out := a.push(ps[0].info(t0), t0); len(out) != 0 {
		t.Fatalf("released %v early", out)
	}
	if out := a.push(ps[2].info(t0), t0.Add(10*time.Millisecond)); len(out) != 0 {
		t.Fatalf("released %v before the hole was filled", out)
	}
	out := a.push(ps[1].info(t0), t0.Add(120*time.Millisecond))
	if len(out) != 1 || !out[0].Complete || out[0].Width != 320 {
		t.Fatalf("after retransmission: %+v", out)
	}
	if late := a.push(ps[1].info(t0), t0.Add(130*time.Millisecond)); len(late) != 0 || a.late != 1 {
		t.Fatalf("late duplicate: %v, late=%d", late, a.late)
	}
}

func TestDecodeTracker(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	d := newDecodeTracker()
	steps := []struct {
		f         assembledFrame
		decodable bool
	}{
		{assembledFrame{Complete: true, At: at(0)}, false}, // delta before any keyframe
		{assembledFrame{Complete: true, Keyframe: true, At: at(33)}, true},
		{assembledFrame{Complete: true, At: at(66)}, true},
		{assembledFrame{Complete: false, At: at(100)}, false},
		{assembledFrame{Complete: true, At: at(133)}, false},
		{assembledFrame{Complete: true, Keyframe: true, At: at(166)}, true},
		{assembledFrame{Complete: true, AfterGap: true, At: at(200)}, false},
	}
	for i, s := range steps {
		if got := d.frame(s.f); got != s.decodable {
			t.Errorf("step %d: decodable=%v, want %v", i, got, s.decodable)
		}
	}
	for _, tc := range []struct {
		ms   int
		want bool
	}{{250, false}, {400, true}, {500, false}, {1399, false}, {1400, true}} {
		if got := d.needPLI(at(tc.ms)); got != tc.want {
			t.Errorf("needPLI at %d ms = %v, want %v", tc.ms, got, tc.want)
		}
	}
}

func TestParseVP8(t *testing.T) {
	keyHdr := []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01}
	for _, tc := range []struct {
		name string
		in   []byte
		want vp8Packet
		err  bool
	}{
		{"no extension, start, key", append([]byte{0x10}, keyHdr...), vp8Packet{Start: true, Keyframe: true, Width: 640, Height: 360, PictureID: -1}, false},
		{"15-bit picture id", append([]byte{0x90, 0x80, 0x81, 0x02}, keyHdr...), vp8Packet{Start: true, Keyframe: true, Width: 640, Height: 360, PictureID: 0x102}, false},
		{"7-bit picture id, continuation", []byte{0x80, 0x80, 0x05, 0xff}, vp8Packet{PictureID: 5}, false},
		{"start of partition 1 is not a frame start", []byte{0x11, 0x00}, vp8Packet{PictureID: -1}, false},
		{"tl0 and tid", append([]byte{0x90, 0xf0, 0x80, 0x01, 0x07, 0x20}, 0x51, 0, 0), vp8Packet{Start: true, PictureID: 1}, false},
		{"truncated", []byte{0x90, 0x80, 0x81}, vp8Packet{PictureID: -1}, true},
		{"empty", nil, vp8Packet{PictureID: -1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVP8(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseVP8(f *testing.F) {
	f.Add([]byte{0x90, 0x80, 0x81, 0x02, 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseVP8(b)
		if err == nil && p.Keyframe && !p.Start {
			t.Fatal("keyframe without start")
		}
	})
}

// Holes from one burst of losses are awaited together, from when the first
// packet after each arrived: the keyframe behind four holes is released one
// wait after the burst, not four waits later.
func TestAssemblerHoleBurstOneWait(t *testing.T) {
	t0 := time.Unix(0, 0)
	a := newFrameAssembler(defaultHoleWait)
	ps := drop(concat(frame(0, 0, 5, false), frame(5, 3000, 5, false), frame(10, 6000, 3, true)), 1, 3, 6, 8)
	for _, p := range ps {
		p.at = time.Duration(p.seq) * time.Millisecond
		if out := a.push(p.info(t0), t0.Add(p.at)); len(out) != 0 && out[len(out)-1].Keyframe {
			t.Fatalf("keyframe released at %v, before any hole was given up", p.at)
		}
	}
	last := pkt{seq: 13, ts: 9000, start: true, marker: true, at: defaultHoleWait + 20*time.Millisecond}
	var key bool
	for _, f := range a.push(last.info(t0), t0.Add(last.at)) {
		key = key || (f.Keyframe && f.Complete)
	}
	if !key {
		t.Fatalf("keyframe not released %v after the burst", last.at)
	}
}
