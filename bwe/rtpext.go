package bwe

import "encoding/binary"

// RTP header layout (RFC 3550 section 5.1, RFC 8285 section 4).
const (
	rtpFixedHeader   = 12
	rtpVersion       = 2
	profileOneByte   = 0xBEDE
	profileTwoByte   = 0x1000 // the low four bits are "appbits", any value
	profileTwoByteLo = 0xFFF0
)

// rtpExtension finds header extension element id in the raw RTP packet buf
// and returns the packet's SSRC and the element's payload (aliasing buf).
//
// It exists so the audio level path needs neither an rtp.Header nor its
// Extensions slice: when no interceptor earlier in the chain cached a parsed
// header in the Attributes, walking the bytes once is cheaper than
// rtp.Header.Unmarshal and allocates nothing. ok is false when the packet is
// malformed or carries no such element.
func rtpExtension(buf []byte, id uint8) (ssrc uint32, ext []byte, ok bool) {
	if len(buf) < rtpFixedHeader || buf[0]>>6 != rtpVersion {
		return 0, nil, false
	}
	ssrc = binary.BigEndian.Uint32(buf[8:12])
	if buf[0]&0x10 == 0 {
		return ssrc, nil, false
	}
	off := rtpFixedHeader + int(buf[0]&0x0f)*4
	if len(buf) < off+4 {
		return ssrc, nil, false
	}
	profile := binary.BigEndian.Uint16(buf[off:])
	end := off + 4 + int(binary.BigEndian.Uint16(buf[off+2:]))*4
	if len(buf) < end {
		return ssrc, nil, false
	}
	switch {
	case profile == profileOneByte:
		ext, ok = oneByteElement(buf[off+4:end], id)
	case profile&profileTwoByteLo == profileTwoByte:
		ext, ok = twoByteElement(buf[off+4:end], id)
	}
	return ssrc, ext, ok
}

// oneByteElement walks RFC 8285 one-byte elements: ID in the high nibble,
// length-1 in the low one, zero bytes as padding. ID 15 ends the walk, and so
// does ID 0 with a non-zero length, which is malformed (pion stops there too).
func oneByteElement(b []byte, id uint8) ([]byte, bool) {
	for i := 0; i < len(b); {
		if b[i] == 0 {
			i++
			continue
		}
		eid, n := b[i]>>4, int(b[i]&0x0f)+1
		if eid == 15 || eid == 0 {
			return nil, false
		}
		i++
		if i+n > len(b) {
			return nil, false
		}
		if eid == id {
			return b[i : i+n], true
		}
		i += n
	}
	return nil, false
}

// twoByteElement walks RFC 8285 two-byte elements: an ID byte, a length byte
// (zero allowed), zero ID bytes as padding.
func twoByteElement(b []byte, id uint8) ([]byte, bool) {
	for i := 0; i < len(b); {
		if b[i] == 0 {
			i++
			continue
		}
		if i+2 > len(b) {
			return nil, false
		}
		eid, n := b[i], int(b[i+1])
		i += 2
		if i+n > len(b) {
			return nil, false
		}
		if eid == id {
			return b[i : i+n], true
		}
		i += n
	}
	return nil, false
}
