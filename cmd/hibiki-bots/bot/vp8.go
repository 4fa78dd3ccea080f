package bot

import (
	"errors"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
)

// errShortVP8 reports a VP8 RTP payload too short for its own descriptor.
var errShortVP8 = errors.New("bot: VP8 payload shorter than its descriptor")

// vp8Packet is what the subscriber needs from a VP8 RTP payload (RFC 7741
// section 4.2): where a frame starts, whether it is a keyframe and, for a
// keyframe's first packet, the picture size.
type vp8Packet struct {
	// Start is set on the first packet of a frame (S bit with partition 0).
	Start         bool
	Keyframe      bool
	Width, Height int
	PictureID     int // -1 when absent
}

// parseVP8 reads the payload descriptor and, on a frame's first packet, the
// start of the VP8 frame header behind it.
func parseVP8(payload []byte) (vp8Packet, error) {
	p := vp8Packet{PictureID: -1}
	if len(payload) < 1 {
		return p, errShortVP8
	}
	b0 := payload[0]
	n := 1
	if b0&0x80 != 0 { // X: extension byte follows
		if len(payload) < 2 {
			return p, errShortVP8
		}
		x := payload[1]
		n = 2
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(payload) < n+1 {
				return p, errShortVP8
			}
			if payload[n]&0x80 != 0 {
				if len(payload) < n+2 {
					return p, errShortVP8
				}
				p.PictureID = int(payload[n]&0x7f)<<8 | int(payload[n+1])
				n += 2
			} else {
				p.PictureID = int(payload[n])
				n++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			n++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX byte
			n++
		}
	}
	if len(payload) < n {
		return p, errShortVP8
	}
	p.Start = b0&0x10 != 0 && b0&0x07 == 0
	if p.Start {
		p.Keyframe, p.Width, p.Height = media.VP8FrameInfo(payload[n:])
	}
	return p, nil
}
