package media

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
)

// ErrBadClip reports an embedded clip that does not have the shape the bots
// rely on (no frames, no leading keyframe, misaligned layers).
var ErrBadClip = errors.New("media: bad clip")

// VideoFrame is one encoded VP8 frame of a clip.
type VideoFrame struct {
	Data     []byte
	Keyframe bool
}

// VideoClip is a whole IVF clip in memory.
type VideoClip struct {
	Width, Height int
	// FrameRate is frames per second, from the IVF time base.
	FrameRate int
	Frames    []VideoFrame
	// Keyframes lists the indexes of keyframes in Frames, ascending.
	Keyframes []int
}

// ParseIVF reads a VP8 IVF file into memory.
func ParseIVF(data []byte) (*VideoClip, error) {
	r, hdr, err := ivfreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("ivf header: %w", err)
	}
	if string(hdr.FourCC[:]) != "VP80" {
		return nil, fmt.Errorf("%w: codec %q is not VP8", ErrBadClip, hdr.FourCC)
	}
	clip := &VideoClip{Width: int(hdr.Width), Height: int(hdr.Height)}
	if hdr.TimebaseNumerator > 0 {
		clip.FrameRate = int(hdr.TimebaseDenominator / hdr.TimebaseNumerator)
	}
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("ivf frame %d: %w", len(clip.Frames), err)
		}
		key, _, _ := VP8FrameInfo(frame)
		if key {
			clip.Keyframes = append(clip.Keyframes, len(clip.Frames))
		}
		clip.Frames = append(clip.Frames, VideoFrame{Data: frame, Keyframe: key})
	}
	if len(clip.Frames) == 0 || !clip.Frames[0].Keyframe {
		return nil, fmt.Errorf("%w: empty or not starting with a keyframe", ErrBadClip)
	}
	return clip, nil
}

// NextKeyframe returns the index of the first keyframe at or after i, wrapping
// to the clip's first frame (always a keyframe) past the last one.
func (c *VideoClip) NextKeyframe(i int) int {
	for _, k := range c.Keyframes {
		if k >= i {
			return k
		}
	}
	return 0
}

// VP8FrameInfo reads the start of a VP8 frame (RFC 6386 section 9.1): whether
// it is a keyframe and, for keyframes, the coded width and height. It needs
// the first 10 bytes of the frame; shorter data reports a non-keyframe.
func VP8FrameInfo(frame []byte) (keyframe bool, width, height int) {
	if len(frame) < 3 || frame[0]&0x01 != 0 {
		return false, 0, 0
	}
	if len(frame) < 10 || frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return false, 0, 0
	}
	width = int(frame[6]) | int(frame[7]&0x3f)<<8
	height = int(frame[8]) | int(frame[9]&0x3f)<<8
	return true, width, height
}
