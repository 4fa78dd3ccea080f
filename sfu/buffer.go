package sfu

import "sync"

// cacheSlots is how many recent packets a layer's cache indexes at most. A
// power of two, so a sequence number maps to its slot with a mask.
const cacheSlots = 512

// cacheBytes is the packet storage of one layer's cache: packets are kept
// back to back, so this holds about 1.4 s of 1.5 Mbit/s video or 0.8 s of
// 2.5 Mbit/s, several RTTs on any usable path, and up to cacheSlots packets
// of a low layer. Fixed 1500-byte slots would take 750 KiB per layer, three
// times this, for the same 512 packets.
const cacheBytes = 256 << 10

// maxCachedPacket is the largest packet kept (the receiver reads into 1500).
const maxCachedPacket = 1500

// packetCache is a ring of the most recent packets of one published layer,
// stored as received (RTP header and payload). All subscribers of the layer
// share it: a NACK from any of them is answered by copying the source
// packet out and rewriting it for that subscriber (see sequencer.go), so the
// server holds one copy of each packet per layer instead of one per
// subscriber, as pion's NACK responder would.
//
// Packets are appended to a byte ring; a slot per sequence number records
// where its bytes start (as an absolute offset, counting every byte ever
// written) and how long they are. A slot is valid while its bytes have not
// been overwritten, which the absolute offsets tell without scanning.
//
// The one writer is the layer's receiver goroutine; readers are the
// subscribers' RTCP goroutines answering NACKs. The mutex is held for one
// copy only and is never taken on the forwarding path to subscribers.
type packetCache struct {
	mu    sync.Mutex
	data  []byte // cacheBytes, allocated on the first store
	head  uint64 // absolute offset of the next byte written
	slots [cacheSlots]cacheSlot
}

type cacheSlot struct {
	at    uint64 // absolute offset of the packet's first byte
	n     uint16
	seq   uint16
	valid bool
}

// store copies pkt, the raw packet with sequence number seq, into the ring,
// replacing the oldest bytes. Oversized packets are not cached.
func (c *packetCache) store(seq uint16, pkt []byte) {
	if len(pkt) > maxCachedPacket {
		return
	}
	c.mu.Lock()
	if c.data == nil {
		c.data = make([]byte, cacheBytes)
	}
	off := c.head % cacheBytes
	if off+uint64(len(pkt)) > cacheBytes { // does not fit before the end: wrap
		c.head += cacheBytes - off
		off = 0
	}
	copy(c.data[off:], pkt)
	c.slots[int(seq)&(cacheSlots-1)] = cacheSlot{at: c.head, n: uint16(len(pkt)), seq: seq, valid: true}
	c.head += uint64(len(pkt))
	c.mu.Unlock()
}

// get copies the packet with sequence number seq into dst and returns its
// length; ok is false when it is no longer (or never was) in the cache or
// dst is too small.
func (c *packetCache) get(seq uint16, dst []byte) (n int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slots[int(seq)&(cacheSlots-1)]
	if !s.valid || s.seq != seq || int(s.n) > len(dst) || c.head-s.at > cacheBytes {
		return 0, false
	}
	off := s.at % cacheBytes
	return copy(dst, c.data[off:off+uint64(s.n)]), true
}
