package sfu

// sequencerSize is how many sent packets a DownTrack remembers for NACKs:
// about what a layer cache holds of a 2 Mbit/s layer (cacheBytes), which
// bounds what can be resent anyway; 2.5 s of 1 Mbit/s video.
const sequencerSize = 256

// sentPacket is what a DownTrack needs to resend one packet it sent: where
// the source is (layer, source sequence number in that layer's cache) and
// how it was rewritten, and when it was last resent. 20 bytes, so the ring
// is 5 KiB per video subscription.
type sentPacket struct {
	srcSeq    uint16
	outSeq    uint16
	timestamp uint32
	pictureID uint16
	tl0       uint8
	layer     uint8
	flags     uint8
	resends   uint8
	// resentAt is the last resend's time in ms on the DownTrack's clock,
	// modulo 2^16 (an entry lives a few seconds).
	resentAt uint16
}

const (
	sentValid uint8 = 1 << iota
	sentMarker
	sentRewriteVP8
	// sentKeyframe marks a packet of a keyframe: its retransmission is
	// what a receiver that lost it needs most (resendBudget).
	sentKeyframe
)

// sequencer maps a subscriber's output sequence numbers to the source
// packets they carried: a small ring indexed by output sequence number. It
// is owned by one DownTrack and used under the DownTrack's mutex.
type sequencer struct {
	ring [sequencerSize]sentPacket
}

// push records that outSeq carried source packet srcSeq of layer, rewritten
// as dec says.
func (s *sequencer) push(layer int, srcSeq uint16, dec *Decision, key bool) {
	flags := sentValid
	if key {
		flags |= sentKeyframe
	}
	if dec.Marker {
		flags |= sentMarker
	}
	if dec.RewriteVP8 {
		flags |= sentRewriteVP8
	}
	s.ring[int(dec.SequenceNumber)&(sequencerSize-1)] = sentPacket{
		srcSeq: srcSeq, outSeq: dec.SequenceNumber, timestamp: dec.Timestamp,
		pictureID: dec.PictureID, tl0: dec.TL0PICIDX, layer: uint8(layer), flags: flags,
	}
}

// lookup returns the entry of what was sent as outSeq, nil when it is no
// longer remembered. The caller holds the DownTrack lock and counts
// resends on it (maxResends).
func (s *sequencer) lookup(outSeq uint16) *sentPacket {
	e := &s.ring[int(outSeq)&(sequencerSize-1)]
	if e.flags&sentValid == 0 || e.outSeq != outSeq {
		return nil
	}
	return e
}

// maxResends is how often one packet is sent again. A receiver that keeps
// asking for a packet it cannot accept (an SRTP replay window smaller than
// the NACK delay, a NACK generator without a retry limit) would otherwise
// get it resent every 100 ms forever, on exactly the links that are short
// of bandwidth.
const maxResends = 4

// decision rebuilds the Decision a resend applies.
func (e sentPacket) decision() Decision {
	return Decision{
		SequenceNumber: e.outSeq, Timestamp: e.timestamp, Marker: e.flags&sentMarker != 0,
		RewriteVP8: e.flags&sentRewriteVP8 != 0, PictureID: e.pictureID, TL0PICIDX: e.tl0,
	}
}
