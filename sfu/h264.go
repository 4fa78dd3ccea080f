package sfu

// H264 NAL unit types that matter for forwarding (RFC 6184, H.264 7.4.1).
const (
	h264NALIDR   = 5
	h264NALSPS   = 7
	h264NALSTAPA = 24
	h264NALFUA   = 28
	h264TypeMask = 0x1f
	h264FUStart  = 0x80
)

// H264IsKeyframe reports whether an H264 RTP payload starts a keyframe: it
// carries an IDR slice (NAL 5) or a sequence parameter set (NAL 7, which
// encoders send right before an IDR), as a single NAL unit, inside a
// STAP-A aggregate, or as the start fragment of an FU-A. Later FU-A
// fragments are not keyframe starts: a switch must begin at the first
// packet of the frame.
func H264IsKeyframe(payload []byte) bool {
	if len(payload) < 1 {
		return false
	}
	switch t := payload[0] & h264TypeMask; t {
	case h264NALSTAPA:
		for rest := payload[1:]; len(rest) >= 3; {
			size := int(rest[0])<<8 | int(rest[1])
			if size == 0 || 2+size > len(rest) {
				return false
			}
			if isH264KeyNAL(rest[2] & h264TypeMask) {
				return true
			}
			rest = rest[2+size:]
		}
		return false
	case h264NALFUA:
		return len(payload) >= 2 && payload[1]&h264FUStart != 0 &&
			isH264KeyNAL(payload[1]&h264TypeMask)
	default:
		return isH264KeyNAL(t)
	}
}

func isH264KeyNAL(t byte) bool {
	return t == h264NALIDR || t == h264NALSPS
}

// H264SPSSize returns the picture size announced by a sequence parameter
// set in payload (a single SPS NAL unit or one inside a STAP-A), so the
// allocator learns the real size of each simulcast layer. ok is false when
// the payload has no SPS or it cannot be parsed.
func H264SPSSize(payload []byte) (w, h int, ok bool) {
	if len(payload) < 1 {
		return 0, 0, false
	}
	switch t := payload[0] & h264TypeMask; t {
	case h264NALSPS:
		return parseH264SPS(payload[1:])
	case h264NALSTAPA:
		for rest := payload[1:]; len(rest) >= 3; {
			size := int(rest[0])<<8 | int(rest[1])
			if size == 0 || 2+size > len(rest) {
				return 0, 0, false
			}
			if rest[2]&h264TypeMask == h264NALSPS {
				return parseH264SPS(rest[3 : 2+size])
			}
			rest = rest[2+size:]
		}
	}
	return 0, 0, false
}

// bitReader reads an H264 RBSP bit by bit, skipping emulation prevention
// bytes (00 00 03) on the fly so nothing is copied. After any read past the
// end, err is set and reads return zero.
type bitReader struct {
	buf   []byte
	pos   int // byte index
	bit   uint8
	zeros int // consecutive zero bytes before pos
	err   bool
}

func (r *bitReader) u1() uint32 {
	if r.bit == 0 {
		if r.pos >= len(r.buf) {
			r.err = true
			return 0
		}
		if r.zeros >= 2 && r.buf[r.pos] == 3 {
			r.zeros = 0
			r.pos++
			if r.pos >= len(r.buf) {
				r.err = true
				return 0
			}
		}
	}
	b := r.buf[r.pos]
	v := uint32(b>>(7-r.bit)) & 1
	r.bit++
	if r.bit == 8 {
		r.bit = 0
		r.pos++
		if b == 0 {
			r.zeros++
		} else {
			r.zeros = 0
		}
	}
	return v
}

func (r *bitReader) u(n int) uint32 {
	var v uint32
	for range n {
		v = v<<1 | r.u1()
	}
	return v
}

// ue reads an unsigned exp-Golomb value; codes longer than 31 bits are
// invalid in an SPS and set err.
func (r *bitReader) ue() uint32 {
	zeros := 0
	for r.u1() == 0 {
		if r.err || zeros == 31 {
			r.err = true
			return 0
		}
		zeros++
	}
	return (1<<zeros - 1) + r.u(zeros)
}

// se reads a signed exp-Golomb value.
func (r *bitReader) se() int32 {
	v := r.ue()
	if v&1 == 1 {
		return int32((v + 1) / 2)
	}
	return -int32(v / 2)
}

// parseH264SPS parses seq_parameter_set_data (H.264 7.3.2.1.1) up to the
// frame cropping fields.
func parseH264SPS(rbsp []byte) (w, h int, ok bool) {
	r := &bitReader{buf: rbsp}
	profile := r.u(8)
	r.u(16) // constraint flags, level_idc
	r.ue()  // seq_parameter_set_id
	chroma := uint32(1)
	separate := uint32(0)
	if spsHasChromaInfo(profile) {
		if chroma = r.ue(); chroma == 3 {
			separate = r.u1()
		}
		r.ue() // bit_depth_luma_minus8
		r.ue() // bit_depth_chroma_minus8
		r.u1() // qpprime_y_zero_transform_bypass_flag
		if r.u1() == 1 {
			skipScalingLists(r, chroma)
		}
	}
	r.ue() // log2_max_frame_num_minus4
	switch r.ue() {
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.u1()
		r.se()
		r.se()
		n := r.ue()
		for i := uint32(0); i < n && !r.err; i++ {
			r.se()
		}
	}
	r.ue() // max_num_ref_frames
	r.u1() // gaps_in_frame_num_value_allowed_flag
	mbW := int64(r.ue()) + 1
	mapH := int64(r.ue()) + 1
	frameMbsOnly := int64(r.u1())
	if frameMbsOnly == 0 {
		r.u1() // mb_adaptive_frame_field_flag
	}
	r.u1() // direct_8x8_inference_flag
	var cl, cr, ct, cb int64
	if r.u1() == 1 {
		cl, cr, ct, cb = int64(r.ue()), int64(r.ue()), int64(r.ue()), int64(r.ue())
	}
	if r.err {
		return 0, 0, false
	}
	cropX, cropY := int64(1), 2-frameMbsOnly
	if separate == 0 && chroma != 0 {
		if chroma == 1 || chroma == 2 {
			cropX = 2
		}
		if chroma == 1 {
			cropY *= 2
		}
	}
	width := mbW*16 - cropX*(cl+cr)
	height := (2-frameMbsOnly)*mapH*16 - cropY*(ct+cb)
	if width <= 0 || height <= 0 || width > 1<<16 || height > 1<<16 {
		return 0, 0, false
	}
	return int(width), int(height), true
}

// spsHasChromaInfo reports the profiles whose SPS carries chroma format and
// bit depth fields.
func spsHasChromaInfo(profile uint32) bool {
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		return true
	}
	return false
}

// skipScalingLists reads past seq_scaling_list_present_flag[i] and the
// scaling lists they announce.
func skipScalingLists(r *bitReader, chroma uint32) {
	n := 8
	if chroma == 3 {
		n = 12
	}
	for i := 0; i < n && !r.err; i++ {
		if r.u1() == 0 {
			continue
		}
		size := 16
		if i >= 6 {
			size = 64
		}
		last, next := int32(8), int32(8)
		for j := 0; j < size && !r.err; j++ {
			if next != 0 {
				next = (last + r.se() + 256) % 256
			}
			if next != 0 {
				last = next
			}
		}
	}
}
