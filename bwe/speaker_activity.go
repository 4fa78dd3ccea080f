package bwe

import "math"

// The three time scales of Volfin & Cohen's dominant speaker identification,
// with the sizes of their paper and of Jitsi's implementation: a frame (one
// 20 ms packet) is split into N1 "sub-bands", a medium interval is N2 frames
// (100 ms, about a syllable), a long interval is N3 mediums (1 s, a phrase).
const (
	dsiN1     = 13
	dsiN2     = 5
	dsiN3     = 10
	dsiFrames = dsiN2 * dsiN3 // one long interval of frames

	// dsiRing is the ring length, a power of two for cheap indexing. Its
	// excess over dsiFrames is how far back Tick can catch up (78 frames,
	// 1.56 s) while every evaluated frame still has its whole long interval.
	dsiRing    = 128
	dsiCatchUp = dsiRing - dsiFrames

	// dsiVoiced is the loudness (dB above quietLevel) from which a frame
	// counts as voiced: 8 of the 13 sub-units active, V&C's medium threshold
	// of more than half the sub-bands. It is -54 dBov.
	dsiVoiced = (8-1)*levelStep + 1
	// dsiLoudMax is the loudness of all 13 sub-units (-25 dBov and louder).
	dsiLoudMax = dsiN1 * levelStep
	// dsiSaturate voiced frames (400 ms) in the long interval make a speaker
	// fully "talking" on that scale; see evaluate.
	dsiSaturate = 20

	// Poisson rates of the speech model for each scale (V&C section 3).
	dsiLambda1 = 0.78
	dsiLambda2 = 24
	dsiLambda3 = 47
	// dsiMinScore replaces non-positive scores so that ratios stay finite;
	// a score at this floor means "silent on this scale".
	dsiMinScore = 1e-10

	// dsiBridge is the widest run of empty frames between two packets that is
	// filled in: arrival jitter and 40/60 ms ptimes leave such holes in
	// speech that was continuous at the sender.
	dsiBridge = 2
)

// Level to loudness mapping, in -dBov. Jitsi divides 127-level by 10, which
// makes every speech level 8 or 9 and so cannot tell a louder talker from a
// quieter one; hibiki spends the 13 sub-units on the range speech really
// uses, 5 dB each from -90 dBov, so -45 dBov is 9 sub-units and -30 dBov 12.
const (
	silentLevel  = 127 // RFC 6464: digital silence, also sent by muted mics
	quietLevel   = 90  // immediate 0 at and below this loudness
	levelStep    = 5
	gateMargin   = 10  // a level must be this much louder than the noise floor
	floorWindow  = 750 // packets (15 s at 20 ms) before the floor may rise
	recentFrames = 15  // window of SpeakerLevel (300 ms)
)

// scoreTables hold the speech activity score of every possible input, so a
// Tick is integer sums and lookups. The ring stores each frame's loudness in
// dB above quietLevel (0..dsiLoudMax), which is levelStep times the number
// of active sub-units; the inputs are the frame's loudness, a medium's sum
// and the long interval's capped sum over voiced frames, each scaled back to
// "active units" of its scale.
type scoreTables struct {
	imm  [dsiLoudMax + 1]float64
	med  [dsiLoudMax*dsiN2 + 1]float64
	long [dsiLoudMax*dsiSaturate + 1]float64
}

func newScoreTables() *scoreTables {
	t := &scoreTables{}
	for i := range t.imm {
		t.imm[i] = activityScore(float64(i)/levelStep, dsiN1, dsiLambda1)
	}
	for i := range t.med {
		t.med[i] = activityScore(float64(i)/dsiLoudMax, dsiN2, dsiLambda2)
	}
	for i := range t.long {
		t.long[i] = activityScore(float64(i)/(dsiLoudMax*dsiN2), dsiN3, dsiLambda3)
	}
	return t
}

// activityScore is V&C's speech activity score of v active units out of n:
// the log-likelihood ratio of a speech model (exponential in v, rate lambda)
// against a noise model (binomial with p = 1/2). v may be fractional because
// hibiki weights activity by loudness; lgamma extends the binomial
// coefficient to it.
func activityScore(v float64, n int, lambda float64) float64 {
	nf := float64(n)
	lgN, _ := math.Lgamma(nf + 1)
	lgV, _ := math.Lgamma(v + 1)
	lgR, _ := math.Lgamma(nf - v + 1)
	s := lgN - lgV - lgR + nf*math.Log(0.5) - math.Log(lambda) + lambda*v
	if s < dsiMinScore {
		return dsiMinScore
	}
	return s
}

// noiseFloor tracks the quietest level a speaker sends (V&C and Jitsi keep
// a "minimum level" too), so that the constant background noise of a bad
// microphone is not taken for speech. Digital silence (127) counts: a clean
// microphone's floor is then 127 and nothing of its speech is gated, where
// Jitsi, which skips 127, would take the quietest syllable for noise. The
// floor drops at once to a quieter level and otherwise becomes the quietest
// level of the last window of floorWindow packets, so noise that starts
// later (a fan switched on) is absorbed within one window.
type noiseFloor struct {
	level    uint8 // -dBov; 127 is a clean line
	quietest uint8 // quietest level of the current window
	count    int
	known    bool
}

func (n *noiseFloor) observe(level uint8) {
	if !n.known || level > n.level {
		n.level, n.known = level, true
	}
	if n.count == 0 || level > n.quietest {
		n.quietest = level
	}
	n.count++
	if n.count >= floorWindow {
		n.level, n.count = n.quietest, 0
	}
}

// passes reports whether level is at least gateMargin louder than the floor.
func (n *noiseFloor) passes(level uint8) bool {
	return int(level)+gateMargin < int(n.level)
}

// speaker is one participant's activity: a ring of the loudness of the
// last dsiRing frames, indexed by absolute frame number, and the scores of
// the last evaluation.
type speaker struct {
	id      string
	ring    [dsiRing]uint8
	filled  int64 // newest frame whose slot is current
	last    int64 // newest frame that received a packet
	started bool
	floor   noiseFloor

	imm, med, long float64 // activity scores, set by evaluate
	eligible       bool
}

func slot(f int64) int {
	return int(f & (dsiRing - 1))
}

// loudness maps a packet's level to dB above quietLevel, 0..dsiLoudMax, or
// 0 when the noise gate or the V bit rule rejects it. Keeping dB rather than
// whole sub-units lets the long scale tell apart talkers 2-3 dB apart.
func (s *speaker) loudness(level uint8, voice, requireVoice bool) uint8 {
	s.floor.observe(level)
	if level >= quietLevel || !s.floor.passes(level) || (requireVoice && !voice) {
		return 0
	}
	return min(quietLevel-level, dsiLoudMax)
}

// advance makes the slots up to frame to current, clearing frames that
// received no packet.
func (s *speaker) advance(to int64) {
	if !s.started {
		s.started, s.filled, s.last = true, to, to-dsiRing
		return
	}
	if to <= s.filled {
		return
	}
	from := max(s.filled+1, to-dsiRing+1)
	for f := from; f <= to; f++ {
		s.ring[slot(f)] = 0
	}
	s.filled = to
}

// observe records a packet's loudness in frame f, keeping the loudest of a
// frame, and bridges a short hole since the previous packet.
func (s *speaker) observe(f int64, loud uint8) {
	s.advance(f)
	if f <= s.filled-dsiRing {
		return // older than the ring
	}
	if cur := &s.ring[slot(f)]; loud > *cur {
		*cur = loud
	}
	if f <= s.last {
		return
	}
	if gap := f - s.last - 1; gap > 0 && gap <= dsiBridge {
		fill := min(s.ring[slot(s.last)], s.ring[slot(f)])
		for g := s.last + 1; g < f; g++ {
			s.ring[slot(g)] = fill
		}
	}
	s.last = f
}

// evaluate computes the three scores at frame newest (a complete frame).
// The long input is the loudness of the voiced frames of the last second
// times their number capped at dsiSaturate: past that point a speaker is
// "talking", and how loud decides, not how short their pauses between words
// were, which is noise on a one-second window.
func (s *speaker) evaluate(newest int64, t *scoreTables, minVoiced int) {
	med, loud, voiced := 0, 0, 0
	for k := range int64(dsiFrames) {
		v := int(s.ring[slot(newest-k)])
		if k < dsiN2 {
			med += v
		}
		if v >= dsiVoiced {
			loud += v
			voiced++
		}
	}
	long := 0
	if voiced > 0 {
		long = (loud*min(voiced, dsiSaturate) + voiced/2) / voiced
	}
	s.imm = t.imm[s.ring[slot(newest)]]
	s.med = t.med[med]
	s.long = t.long[long]
	s.eligible = voiced >= minVoiced
}

// recent returns the loudness-weighted activity of the last recentFrames
// frames (0..1) and whether any of them was voiced.
func (s *speaker) recent(newest int64) (float64, bool) {
	sum, voiced := 0, false
	for k := range int64(recentFrames) {
		v := s.ring[slot(newest-k)]
		sum += int(v)
		voiced = voiced || v >= dsiVoiced
	}
	return float64(sum) / (recentFrames * dsiLoudMax), voiced
}
