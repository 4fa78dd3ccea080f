package sfu

import "strconv"

// Kind is the media kind of a published track. The Forwarder needs it
// because audio is forwarded packet by packet with no keyframe gating,
// while video waits for keyframes and drops layers.
type Kind uint8

// Kinds of media. The zero value is deliberately not a valid kind, so a
// forgotten initialisation shows up as "unknown" instead of silently
// behaving like audio.
const (
	// KindAudio is an audio track: one layer, every packet forwarded.
	KindAudio Kind = iota + 1
	// KindVideo is a video track: keyframe gated, simulcast and temporal
	// layers.
	KindVideo
)

// String returns "audio", "video", or "unknown(N)" for logs.
func (k Kind) String() string {
	switch k {
	case KindAudio:
		return "audio"
	case KindVideo:
		return "video"
	default:
		return "unknown(" + strconv.Itoa(int(k)) + ")"
	}
}
