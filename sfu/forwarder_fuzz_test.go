package sfu

import (
	"slices"
	"testing"
)

// FuzzForwarder drives a Forwarder with a script of deliveries, losses,
// reorderings and control calls over three layers, and checks what every
// subscriber relies on whatever happens: the first forwarded packet starts
// a keyframe, an output sequence number is never reused for a different
// source packet, and timestamps and picture ids never go back as sequence
// numbers advance.
func FuzzForwarder(f *testing.F) {
	f.Add([]byte{0x08, 0x00, 0x10, 0x11, 0x12, 0x04, 0x10, 0x11, 0x12})
	f.Add([]byte{0x0a, 0x02, 0x12, 0x05, 0x02, 0x1a, 0x0c, 0x02, 0x07, 0x02, 0x06, 0x01})
	f.Add([]byte{0x09, 0x01, 0x11, 0x17, 0x0f, 0x09, 0x01, 0x27, 0x01, 0x19, 0x01, 0x03, 0x0b})
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > 4000 {
			script = script[:4000] // stay far from 16-bit output wrap
		}
		s := newSim(t, 3, []uint8{0, 2, 1, 2})
		var queue [MaxSpatialLayers][]*Packet
		var held []*Packet
		type srcID struct {
			layer int
			seq   uint16
		}
		used := map[uint16]srcID{}
		for _, op := range script {
			l := int(op>>4) % MaxSpatialLayers
			if len(queue[l]) == 0 {
				s.now += frameNanos / 3
				queue[l] = s.layers[l].next(op&0x08 != 0, s.now)
			}
			switch op & 0x07 {
			case 0, 1, 2, 3: // deliver
				s.feed(queue[l][0])
				queue[l] = queue[l][1:]
			case 4: // hold back for reordering
				held = append(held, queue[l][0])
				queue[l] = queue[l][1:]
			case 5: // lose
				queue[l] = queue[l][1:]
			case 6: // release the held packets, newest first
				for i := len(held) - 1; i >= 0; i-- {
					s.feed(held[i])
				}
				held = held[:0]
			case 7: // control
				switch op >> 3 & 0x03 {
				case 0:
					s.f.SetTarget(l, int(op>>6)-1)
				case 1:
					s.f.LayerStopped(l)
				case 2:
					s.f.SetMuted(op&0x80 != 0)
				case 3:
					s.f.SetPaused(op&0x80 != 0)
				}
			}
		}
		if len(s.out) == 0 {
			return
		}
		if !s.out[0].src.Keyframe {
			t.Fatal("first forwarded packet is not a keyframe start")
		}
		for _, o := range s.out {
			id := srcID{o.src.Layer, o.src.Header.SequenceNumber}
			if prev, ok := used[o.d.SequenceNumber]; ok && prev != id {
				t.Fatalf("output seq %d used for %v and %v", o.d.SequenceNumber, prev, id)
			}
			used[o.d.SequenceNumber] = id
		}
		base := s.out[0].d.SequenceNumber
		sorted := slices.Clone(s.out)
		slices.SortStableFunc(sorted, func(a, b fwd) int {
			return int(a.d.SequenceNumber-base) - int(b.d.SequenceNumber-base)
		})
		for i := 1; i < len(sorted); i++ {
			a, b := sorted[i-1].d, sorted[i].d
			if int32(b.Timestamp-a.Timestamp) < 0 {
				t.Fatalf("timestamp %d after %d (seq %d, %d)", b.Timestamp, a.Timestamp, a.SequenceNumber, b.SequenceNumber)
			}
			if d := (b.PictureID - a.PictureID) & 0x7fff; d > 0x4000 {
				t.Fatalf("picture id %d after %d (seq %d, %d)", b.PictureID, a.PictureID, a.SequenceNumber, b.SequenceNumber)
			}
		}
	})
}
