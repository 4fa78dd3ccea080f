package sfu

import "sync"

// cacheSlots is how many recent packets a layer's cache keeps: about 2 s of
// 2.5 Mbit/s video, several RTTs on any usable path. A power of two, so a
// sequence number maps to its slot with a mask.
const cacheSlots = 512

// cacheSlotSize holds any packet the receiver reads (its buffer is 1500).
const cacheSlotSize = 1500

// packetCache is a fixed-slot ring of the most recent packets of one
// published layer, stored as received (RTP header and payload). All
// subscribers of the layer share it: a NACK from any of them is answered by
// copying the source packet out and rewriting it for that subscriber (see
// sequencer.go), so the server holds one copy of each packet per layer
// instead of one per subscriber, as pion's NACK responder would.
//
// The one writer is the layer's receiver goroutine; readers are the
// subscribers' RTCP goroutines answering NACKs. The mutex is held for one
// copy only and is never taken on the forwarding path to subscribers.
type packetCache struct {
	mu    sync.Mutex
	data  []byte // cacheSlots * cacheSlotSize, allocated on the first store
	slots [cacheSlots]cacheSlot
}

type cacheSlot struct {
	seq   uint16
	n     uint16
	valid bool
}

// store copies pkt, the raw packet with sequence number seq, into its slot,
// replacing whatever packet was there. Oversized packets are not cached.
func (c *packetCache) store(seq uint16, pkt []byte) {
	if len(pkt) > cacheSlotSize {
		return
	}
	i := int(seq) & (cacheSlots - 1)
	c.mu.Lock()
	if c.data == nil {
		c.data = make([]byte, cacheSlots*cacheSlotSize)
	}
	copy(c.data[i*cacheSlotSize:], pkt)
	c.slots[i] = cacheSlot{seq: seq, n: uint16(len(pkt)), valid: true}
	c.mu.Unlock()
}

// get copies the packet with sequence number seq into dst and returns its
// length; ok is false when it is no longer (or never was) in the cache or
// dst is too small.
func (c *packetCache) get(seq uint16, dst []byte) (n int, ok bool) {
	i := int(seq) & (cacheSlots - 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slots[i]
	if !s.valid || s.seq != seq || int(s.n) > len(dst) {
		return 0, false
	}
	return copy(dst, c.data[i*cacheSlotSize:i*cacheSlotSize+int(s.n)]), true
}
