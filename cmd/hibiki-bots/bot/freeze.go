package bot

import "time"

// freezeThreshold is the gap between rendered frames that a viewer sees as a
// freeze; browsers' freezeCount uses a similar fixed floor.
const freezeThreshold = 500 * time.Millisecond

// freezeDetector counts freezes on one video track: a gap longer than the
// threshold between two decodable frames while the track is neither muted
// nor paused. Time comes in as arguments so tests drive it with a fake clock.
type freezeDetector struct {
	threshold time.Duration
	last      time.Time // last decodable frame; zero after a pause
	paused    bool
	count     int
	total     time.Duration
}

func newFreezeDetector(threshold time.Duration) *freezeDetector {
	return &freezeDetector{threshold: threshold}
}

// frame records a decodable frame at now.
func (f *freezeDetector) frame(now time.Time) {
	if !f.paused && !f.last.IsZero() {
		if gap := now.Sub(f.last); gap > f.threshold {
			f.count++
			f.total += gap
		}
	}
	f.last = now
}

// setPaused marks the track muted or paused (true) or flowing again (false).
// A gap that spans a pause is not a freeze, so the baseline restarts at the
// first frame after it.
func (f *freezeDetector) setPaused(paused bool) {
	f.paused = paused
	f.last = time.Time{}
}

// frozen reports a freeze in progress at now, one that frame has not yet
// counted because no frame has ended it.
func (f *freezeDetector) frozen(now time.Time) bool {
	return !f.paused && !f.last.IsZero() && now.Sub(f.last) > f.threshold
}
