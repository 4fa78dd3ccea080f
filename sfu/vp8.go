package sfu

import "errors"

// Errors returned by the VP8 payload descriptor parser and writer. They are
// sentinels so that callers (the Receiver counts malformed packets, the
// DownTrack drops them) can tell them apart with errors.Is without string
// matching.
var (
	// ErrVP8Short means the payload ended inside the payload descriptor, or
	// the descriptor was not followed by any VP8 payload byte (RFC 7741
	// requires at least one).
	ErrVP8Short = errors.New("sfu: vp8 payload too short")
	// ErrVP8BufferTooSmall means the destination given to RewriteVP8 cannot
	// hold the rewritten payload; the DownTrack sizes its buffers with
	// VP8MaxDescriptorGrowth so this indicates a programming error.
	ErrVP8BufferTooSmall = errors.New("sfu: vp8 rewrite buffer too small")
	// ErrVP8Descriptor means the descriptor passed to RewriteVP8 does not
	// describe the payload passed with it (its HeaderSize is out of range).
	ErrVP8Descriptor = errors.New("sfu: vp8 descriptor does not match payload")
)

// VP8MaxDescriptorGrowth is how many bytes RewriteVP8 can add to a payload:
// the X byte and a two-byte picture id when the source sent neither, or one
// byte when it sent a 7-bit picture id. Buffers of len(payload)+3 always fit.
const VP8MaxDescriptorGrowth = 3

// VP8 descriptor bit masks (RFC 7741 section 4.2).
const (
	vp8BitX   = 0x80 // extended control bits present
	vp8BitN   = 0x20 // non-reference frame
	vp8BitS   = 0x10 // start of VP8 partition
	vp8PIDMsk = 0x07 // partition index
	vp8BitI   = 0x80 // picture id present
	vp8BitL   = 0x40 // TL0PICIDX present
	vp8BitT   = 0x20 // TID present
	vp8BitK   = 0x10 // KEYIDX present
	vp8BitM   = 0x80 // 15-bit picture id
	vp8BitY   = 0x20 // layer sync
)

// VP8Descriptor is the parsed RTP payload descriptor of one VP8 packet, plus
// what the forwarder needs from the VP8 payload header itself (keyframe flag
// and, on keyframes, the frame size). It is a plain value so the Receiver can
// keep one per packet without allocating.
type VP8Descriptor struct {
	// HeaderSize is the descriptor length in bytes; the VP8 payload starts
	// at this offset.
	HeaderSize int
	// NonReference is the N bit: no other frame references this one, so
	// it may be dropped without breaking decoding.
	NonReference bool
	// S is the start-of-partition bit.
	S bool
	// PartitionID is the VP8 partition index (0..7).
	PartitionID uint8
	// HasPictureID reports the I bit; PictureID is valid only then.
	HasPictureID bool
	// PictureID is the 7- or 15-bit picture id.
	PictureID uint16
	// PictureID15 is the M bit: the picture id was sent in 15-bit form.
	PictureID15 bool
	// HasTL0PICIDX reports the L bit; TL0PICIDX is valid only then.
	HasTL0PICIDX bool
	// TL0PICIDX is the running index of base temporal layer frames.
	TL0PICIDX uint8
	// HasTID reports the T bit; TID and LayerSync are valid only then.
	HasTID bool
	// TID is the temporal layer index (0..3) that temporal dropping uses.
	TID uint8
	// LayerSync is the Y bit: this frame depends only on the base layer,
	// so a subscriber may start receiving layer TID here.
	LayerSync bool
	// HasKeyIdx reports the K bit; KeyIdx is valid only then.
	HasKeyIdx bool
	// KeyIdx is the 5-bit temporal key frame index.
	KeyIdx uint8
	// IsKeyframe is set on the first packet of a key frame: start of
	// partition 0 and P bit of the VP8 payload header clear. Layer switches
	// are gated on it.
	IsKeyframe bool
	// Width and Height are the keyframe dimensions (14 bits each) when the
	// packet carries the keyframe header; 0 otherwise. They tell the
	// allocator the real size of each simulcast layer.
	Width, Height int
}

// ParseVP8 parses the RTP payload descriptor at the start of payload into d.
// It does not allocate and does not retain payload. On error d is zeroed.
func ParseVP8(payload []byte, d *VP8Descriptor) error {
	*d = VP8Descriptor{}
	if len(payload) < 1 {
		return ErrVP8Short
	}
	b := payload[0]
	d.NonReference = b&vp8BitN != 0
	d.S = b&vp8BitS != 0
	d.PartitionID = b & vp8PIDMsk
	n := 1
	if b&vp8BitX != 0 {
		var err error
		if n, err = parseVP8Extension(payload, d); err != nil {
			*d = VP8Descriptor{}
			return err
		}
	}
	if n >= len(payload) {
		*d = VP8Descriptor{}
		return ErrVP8Short
	}
	d.HeaderSize = n
	if d.S && d.PartitionID == 0 && payload[n]&0x01 == 0 {
		d.IsKeyframe = true
		parseVP8KeyframeSize(payload[n:], d)
	}
	return nil
}

// parseVP8Extension reads the optional fields announced by the X byte and
// returns the descriptor length.
func parseVP8Extension(payload []byte, d *VP8Descriptor) (int, error) {
	if len(payload) < 2 {
		return 0, ErrVP8Short
	}
	x := payload[1]
	n := 2
	if x&vp8BitI != 0 {
		if n >= len(payload) {
			return 0, ErrVP8Short
		}
		d.HasPictureID = true
		if payload[n]&vp8BitM != 0 {
			if n+1 >= len(payload) {
				return 0, ErrVP8Short
			}
			d.PictureID15 = true
			d.PictureID = uint16(payload[n]&0x7f)<<8 | uint16(payload[n+1])
			n += 2
		} else {
			d.PictureID = uint16(payload[n] & 0x7f)
			n++
		}
	}
	if x&vp8BitL != 0 {
		if n >= len(payload) {
			return 0, ErrVP8Short
		}
		d.HasTL0PICIDX = true
		d.TL0PICIDX = payload[n]
		n++
	}
	if x&(vp8BitT|vp8BitK) != 0 {
		if n >= len(payload) {
			return 0, ErrVP8Short
		}
		tk := payload[n]
		if x&vp8BitT != 0 {
			d.HasTID = true
			d.TID = tk >> 6
			d.LayerSync = tk&vp8BitY != 0
		}
		if x&vp8BitK != 0 {
			d.HasKeyIdx = true
			d.KeyIdx = tk & 0x1f
		}
		n++
	}
	return n, nil
}

// parseVP8KeyframeSize reads the frame size from a VP8 keyframe header
// (RFC 6386 section 9.1): 3-byte frame tag, start code 9d 01 2a, then
// little-endian 14-bit width and height with 2-bit scale. A truncated or
// malformed header leaves the size at zero: the size is informative only.
func parseVP8KeyframeSize(vp8 []byte, d *VP8Descriptor) {
	if len(vp8) < 10 || vp8[3] != 0x9d || vp8[4] != 0x01 || vp8[5] != 0x2a {
		return
	}
	d.Width = int(uint16(vp8[6])|uint16(vp8[7])<<8) & 0x3fff
	d.Height = int(uint16(vp8[8])|uint16(vp8[9])<<8) & 0x3fff
}

// RewriteVP8 writes payload into dst with its descriptor rewritten for one
// subscriber: the picture id is always written in 15-bit form (so ids can
// continue across layers whose sources use different widths) and the
// TL0PICIDX, when the source carries one, is replaced by tl0. Every other
// descriptor bit and the VP8 payload after the descriptor are copied
// unchanged. d must be the result of ParseVP8(payload). dst may alias
// payload when both start at the same address (in-place rewrite), provided
// dst has room for the growth. It returns the number of bytes written.
func RewriteVP8(dst, payload []byte, d *VP8Descriptor, pictureID uint16, tl0 uint8) (int, error) {
	if d.HeaderSize < 1 || d.HeaderSize >= len(payload) {
		return 0, ErrVP8Descriptor
	}
	hdr := 4 // required byte, X byte, 15-bit picture id
	if d.HasTL0PICIDX {
		hdr++
	}
	hasTK := d.HasTID || d.HasKeyIdx
	if hasTK {
		hdr++
	}
	total := hdr + len(payload) - d.HeaderSize
	if len(dst) < total {
		return 0, ErrVP8BufferTooSmall
	}
	// Read what survives from the old descriptor before the body copy can
	// overwrite it (in-place rewrite with a growing header).
	b0 := payload[0] | vp8BitX
	var tk byte
	if hasTK {
		tk = payload[d.HeaderSize-1]
	}
	copy(dst[hdr:total], payload[d.HeaderSize:])
	x := byte(vp8BitI)
	if d.HasTL0PICIDX {
		x |= vp8BitL
	}
	if d.HasTID {
		x |= vp8BitT
	}
	if d.HasKeyIdx {
		x |= vp8BitK
	}
	dst[0] = b0
	dst[1] = x
	dst[2] = vp8BitM | byte(pictureID>>8)&0x7f
	dst[3] = byte(pictureID)
	n := 4
	if d.HasTL0PICIDX {
		dst[n] = tl0
		n++
	}
	if hasTK {
		dst[n] = tk
	}
	return total, nil
}
