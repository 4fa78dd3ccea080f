package sfu

import (
	"bytes"
	"testing"
)

func TestPacketCache(t *testing.T) {
	var c packetCache
	dst := make([]byte, maxCachedPacket)
	if _, ok := c.get(1, dst); ok {
		t.Fatal("empty cache returned a packet")
	}
	pkt := func(seq uint16) []byte { return bytes.Repeat([]byte{byte(seq)}, 100+int(seq%7)) }
	for seq := uint16(65000); seq != 200; seq++ { // wraps
		c.store(seq, pkt(seq))
	}
	tests := []struct {
		name string
		seq  uint16
		ok   bool
	}{
		{"newest", 199, true},
		{"across the wrap", 65535, true},
		{"oldest kept", 65536 + 200 - cacheSlots, true},
		{"evicted by a newer one in its slot", 65536 + 200 - cacheSlots - 1, false},
		{"never stored", 300, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := c.get(tc.seq, dst)
			if ok != tc.ok {
				t.Fatalf("get(%d) ok = %v, want %v", tc.seq, ok, tc.ok)
			}
			if ok && !bytes.Equal(dst[:n], pkt(tc.seq)) {
				t.Errorf("get(%d) returned other bytes", tc.seq)
			}
		})
	}
	if _, ok := c.get(199, make([]byte, 10)); ok {
		t.Error("get into a too small buffer succeeded")
	}
	c.store(5000, make([]byte, maxCachedPacket+1))
	if _, ok := c.get(5000, dst); ok {
		t.Error("an oversized packet was cached")
	}
}

func TestPacketCacheEvictsByBytes(t *testing.T) {
	var c packetCache
	dst := make([]byte, maxCachedPacket)
	pkt := func(seq uint16) []byte { return bytes.Repeat([]byte{byte(seq), byte(seq >> 8)}, 600) }
	const n = cacheBytes/1200 + 50 // more bytes than the ring holds, fewer packets than slots
	for seq := range uint16(n) {
		c.store(seq, pkt(seq))
	}
	if _, ok := c.get(0, dst); ok {
		t.Error("the oldest packet survived being overwritten")
	}
	kept := 0
	for seq := range uint16(n) {
		if m, ok := c.get(seq, dst); ok {
			kept++
			if !bytes.Equal(dst[:m], pkt(seq)) {
				t.Fatalf("packet %d corrupted", seq)
			}
		}
	}
	if want := cacheBytes / 1200; kept < want-1 || kept > want {
		t.Errorf("kept %d packets of 1200 bytes, want about %d", kept, want)
	}
}

func TestSequencer(t *testing.T) {
	var s sequencer
	dec := Decision{SequenceNumber: 7, Timestamp: 900, Marker: true, RewriteVP8: true, PictureID: 300, TL0PICIDX: 4}
	s.push(2, 4242, &dec, false)
	e := s.lookup(7)
	ok := e != nil
	if !ok || e.layer != 2 || e.srcSeq != 4242 || e.decision() != dec {
		t.Fatalf("lookup(7) = %+v %v", e, ok)
	}
	if s.lookup(7+sequencerSize) != nil {
		t.Error("lookup of a sequence number sharing the slot succeeded")
	}
	dec2 := Decision{SequenceNumber: 7 + sequencerSize}
	s.push(0, 1, &dec2, false)
	if s.lookup(7) != nil {
		t.Error("overwritten entry still found")
	}
	if s.lookup(8) != nil {
		t.Error("never pushed entry found")
	}
}

func BenchmarkPacketCacheStore(b *testing.B) {
	var c packetCache
	pkt := make([]byte, 1212)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.store(uint16(i), pkt)
	}
}
