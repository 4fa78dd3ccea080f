package sfu

import (
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// resendScratch is where a DownTrack rebuilds a packet it resends: the
// source copied out of the layer cache and its parsed form.
type resendScratch struct {
	raw [maxCachedPacket]byte
	pkt rtp.Packet
	p   Packet
}

// resend answers a subscriber's NACK: every lost packet this DownTrack still
// remembers (sequencer) and whose source its layer still caches is written
// again, rewritten exactly as the first time, so it carries the subscriber's
// own SSRC, sequence number, timestamp and VP8 picture id.
func (d *DownTrack) resend(n *rtcp.TransportLayerNack) {
	stats := d.track.owner.room.sfu.opts.stats
	for i := range n.Nacks {
		n.Nacks[i].Range(func(seq uint16) bool {
			if d.resendOne(seq) {
				stats.PacketsResent.Add(1)
			}
			return true
		})
	}
}

// resendOne resends the packet sent as outSeq and reports whether it could.
func (d *DownTrack) resendOne(outSeq uint16) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seq == nil || !d.bound || d.closed {
		return false
	}
	e := d.seq.lookup(outSeq)
	if e == nil || e.resends >= maxResends || !d.fwd.Resendable(int(e.layer)) {
		return false
	}
	now := uint16(time.Since(d.born).Milliseconds())
	if !resendDue(e.resends, e.resentAt, now, d.rtt) {
		return false // the last copy is still on its way (minResendGap)
	}
	e.resends++
	e.resentAt = now
	cache := d.track.cache(int(e.layer))
	if cache == nil {
		return false
	}
	if d.rtx == nil {
		d.rtx = &resendScratch{}
	}
	x := d.rtx
	n, ok := cache.get(e.srcSeq, x.raw[:])
	if !ok || x.pkt.Unmarshal(x.raw[:n]) != nil {
		return false
	}
	if !d.sub.allowResend(n, e.flags&sentKeyframe != 0) {
		return false
	}
	dec := e.decision()
	x.p = Packet{Header: &x.pkt.Header, Payload: x.pkt.Payload, Layer: int(e.layer)}
	if dec.RewriteVP8 && ParseVP8(x.pkt.Payload, &x.p.VP8) != nil {
		return false
	}
	_, err := d.writeLocked(&x.p, &dec)
	return err == nil
}
