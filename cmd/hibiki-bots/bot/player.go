package bot

import (
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/media"
)

// keyframeMinInterval rate-limits keyframe jumps: PLIs for the same loss
// from several subscribers (or several layers) arrive in bursts, and a
// browser encoder also coalesces them. A request inside the interval is
// not dropped: it is served when the interval ends.
const keyframeMinInterval = 200 * time.Millisecond

// videoPlayer walks the frame-aligned layer clips. On a keyframe request it
// jumps all layers to the clip's next keyframe on the next tick, so layers
// stay aligned and the receiver waits at most one frame.
type videoPlayer struct {
	frames    int   // frame count, equal in all layers
	keyframes []int // keyframe indexes, equal in all layers
	pos       int   // index of the next frame to send
	keyReq    bool  // a PLI/FIR waits to be served
	force     bool  // a keyframe is needed regardless of the rate limit
	lastJump  time.Time
}

func newVideoPlayer(clip *media.VideoClip) *videoPlayer {
	return &videoPlayer{frames: len(clip.Frames), keyframes: clip.Keyframes}
}

// requestKeyframe records a PLI or FIR.
func (p *videoPlayer) requestKeyframe() { p.keyReq = true }

// forceKeyframe asks for a keyframe on the next tick even inside the rate
// limit: after an unmute or a layer coming back, nothing else helps.
func (p *videoPlayer) forceKeyframe() { p.force = true }

// next returns the clip index to send on this tick, and whether it jumped
// to serve a keyframe request, and advances, looping at the clip's end.
func (p *videoPlayer) next(now time.Time) (idx int, jumped bool) {
	idx = p.pos
	due := p.keyReq && (p.lastJump.IsZero() || now.Sub(p.lastJump) >= keyframeMinInterval)
	if (p.force || due) && !p.isKey(idx) {
		idx = p.nextKeyframe(p.pos)
		p.lastJump = now
		jumped = true
	}
	if p.isKey(idx) {
		// Any keyframe, jumped to or reached in order, serves all requests.
		p.keyReq, p.force = false, false
	}
	p.pos = (idx + 1) % p.frames
	return idx, jumped
}

func (p *videoPlayer) isKey(i int) bool {
	for _, k := range p.keyframes {
		if k == i {
			return true
		}
	}
	return false
}

func (p *videoPlayer) nextKeyframe(i int) int {
	for _, k := range p.keyframes {
		if k >= i {
			return k
		}
	}
	return 0
}

// audioPlayer walks the Opus clip, either as it is or following a speaking
// schedule by looping inside the speech or the silence section.
type audioPlayer struct {
	clip     *media.AudioClip
	speaking func(time.Duration) bool
	pos      int
}

func newAudioPlayer(clip *media.AudioClip, speaking func(time.Duration) bool) *audioPlayer {
	return &audioPlayer{clip: clip, speaking: speaking}
}

// next returns the frame to send at elapsed and whether it is speech.
func (p *audioPlayer) next(elapsed time.Duration) (media.AudioFrame, bool) {
	if p.speaking == nil {
		f := p.clip.Frames[p.pos]
		p.pos = (p.pos + 1) % len(p.clip.Frames)
		return f, f.Voiced
	}
	section := p.clip.Silence
	voiced := p.speaking(elapsed)
	if voiced {
		section = p.clip.Speech
	}
	if p.pos < section[0] || p.pos >= section[1] {
		p.pos = section[0]
	}
	f := p.clip.Frames[p.pos]
	p.pos++
	return f, voiced
}

// levelByte is the RFC 6464 extension byte: V bit, then -dBov in 7 bits.
func levelByte(level uint8, voiced bool) int {
	b := int(level & 0x7f)
	if voiced {
		b |= 0x80
	}
	return b
}
