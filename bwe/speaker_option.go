package bwe

import (
	"fmt"
	"math"
	"time"
)

// Defaults of the decision. C1 and C2 are those of Volfin & Cohen and Jitsi;
// C3 adds hysteresis on the long scale (they use 0), see docs/speaker.md.
const (
	defaultC1       = 3.0
	defaultC2       = 2.0
	defaultC3       = 0.3
	defaultMinSolid = 4 // solid mediums (of 10) in the last second
	mediumDuration  = dsiN2 * 20 * time.Millisecond
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

// WithMinSpeech sets how much solid speech (in 100 ms mediums with at least
// four voiced frames) a speaker needs within the last second to be
// eligible at all, rounded up to 100 ms, between 100 ms and 1 s. The default
// of 400 ms means a burst shorter than about 340 ms (a cough, a "hm") can
// never become dominant, whatever the others do.
func WithMinSpeech(d time.Duration) SpeakerOption {
	return func(c *speakerConfig) error {
		n := int((d + mediumDuration - 1) / mediumDuration)
		if n < 1 || n > dsiN3 {
			return fmt.Errorf("%w: min speech %v not in [100ms, 1s]", ErrInvalidOption, d)
		}
		c.minSolid = n
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
