package sfu

import (
	"encoding/binary"
	"time"

	"github.com/pion/rtcp"
)

// ntpEpochOffset is the seconds between 1900 (NTP) and 1970 (Unix).
const ntpEpochOffset = 2208988800

// maxPlausibleRTT bounds a round trip read from a receiver report; beyond
// it the report is taken for garbage (a forged or corrupt LSR).
const maxPlausibleRTT = 10 * time.Second

// compactNTP is the middle 32 bits of the NTP time of t: 16.16 fixed-point
// seconds, the format of a reception report's LSR and DLSR.
func compactNTP(t time.Time) uint32 {
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return uint32((secs<<32 | frac) >> 16)
}

// reportRTT reads the round trip to a subscriber from one sender or
// receiver report it sent (RFC 3550 section 6.4.1: now - LSR - DLSR, for
// the report block about ssrc, the stream this DownTrack sends). ok is
// false when the packet has no usable block: no sender report was
// received yet (LSR 0), or the result is implausible.
func reportRTT(b []byte, ssrc uint32, now time.Time) (rtt time.Duration, ok bool) {
	if len(b) < 8 {
		return 0, false
	}
	offset := 8 // header and the reporter's SSRC
	if rtcp.PacketType(b[1]) == rtcp.TypeSenderReport {
		offset += 20 // NTP and RTP timestamps, packet and octet counts
	}
	for n := int(b[0] & 0x1f); n > 0 && offset+24 <= len(b); n-- {
		blk := b[offset : offset+24]
		offset += 24
		lsr, dlsr := binary.BigEndian.Uint32(blk[16:20]), binary.BigEndian.Uint32(blk[20:24])
		if binary.BigEndian.Uint32(blk[0:4]) != ssrc || lsr == 0 {
			continue
		}
		d := compactNTP(now) - lsr - dlsr
		rtt = time.Duration(uint64(d) * uint64(time.Second) >> 16)
		if rtt > maxPlausibleRTT {
			return 0, false
		}
		return rtt, true
	}
	return 0, false
}

// minResendGap is the least time between two resends of one packet: the
// receiver NACKs again on its own timer (pion every 100 ms, libwebrtc
// about every round trip), and a copy still in flight answers both. A
// second copy the receiver already has is dropped by its SRTP replay check
// and reported lost by transport-cc (docs/bwe.md, "Lost retransmissions
// are not link loss"); it only costs bandwidth. The gap is the measured
// round trip, at least this.
const minResendGap = 10 * time.Millisecond

// resendDue reports whether a packet last resent at resentAt (ms on the
// DownTrack's clock, modulo 2^16) may be resent at now, given the round
// trip rtt (0: unknown).
func resendDue(resends uint8, resentAt, now uint16, rtt time.Duration) bool {
	if resends == 0 {
		return true
	}
	gap := max(rtt, minResendGap)
	return time.Duration(now-resentAt)*time.Millisecond >= gap
}
