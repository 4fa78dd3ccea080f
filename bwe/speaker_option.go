package bwe

import (
	"fmt"
	"math"
	"time"
)

// Defaults of the decision; docs/speaker.md explains each. C1 is Volfin &
// Cohen's and Jitsi's. C2 is lower than their 2, so that a pause of about
// 60 ms (rather than 100) is enough for a louder challenger to take over.
// C3 is a hysteresis where they use 0: a challenger must be about 8% (some
// 4 dB) louder on the long scale, so two people talking over each other at
// the same level do not flap.
const (
	defaultC1        = 3.0
	defaultC2        = 1.0
	defaultC3        = 0.08
	defaultMinVoiced = 18 // voiced frames (360 ms) in the last second
	frameDuration    = 20 * time.Millisecond
)

// SpeakerOption configures a SpeakerDetector.
type SpeakerOption func(*speakerConfig) error

// WithDecisionThresholds sets C1, C2, C3: the natural logarithms of the
// ratios by which a challenger's immediate, medium and long scores must
// exceed the dominant speaker's. Higher values switch later and less often.
func WithDecisionThresholds(c1, c2, c3 float64) SpeakerOption {
	return func(c *speakerConfig) error {
		for _, v := range []float64{c1, c2, c3} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: decision threshold %v", ErrInvalidOption, v)
			}
		}
		c.k1, c.k2, c.k3 = math.Exp(c1), math.Exp(c2), math.Exp(c3)
		return nil
	}
}

// WithMinSpeech sets how much voiced speech a speaker needs within the last
// second to be eligible at all, in 20 ms frames rounded up, between 20 ms
// and 1 s. The default of 360 ms means a burst of 320 ms or less (a cough, a
// "hm"), which covers at most 17 frames even with arrival jitter, can never
// become dominant, whatever the others do.
func WithMinSpeech(d time.Duration) SpeakerOption {
	return func(c *speakerConfig) error {
		n := int((d + frameDuration - 1) / frameDuration)
		if d <= 0 || n > dsiFrames {
			return fmt.Errorf("%w: min speech %v not in (0, 1s]", ErrInvalidOption, d)
		}
		c.minVoiced = n
		return nil
	}
}

// WithVoiceActivityFlag makes the detector count only packets whose RFC 6464
// V bit is set. Off by default: not every sender runs a voice activity
// detector, and one that does not sends V=0 on speech too.
func WithVoiceActivityFlag(require bool) SpeakerOption {
	return func(c *speakerConfig) error {
		c.requireVoice = require
		return nil
	}
}
