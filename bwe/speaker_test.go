package bwe

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func newDetector(t testing.TB, opts ...SpeakerOption) *SpeakerDetector {
	t.Helper()
	d, err := NewSpeakerDetector(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// firstChange returns the first change to id, or false.
func firstChange(got []change, id string) (change, bool) {
	i := slices.IndexFunc(got, func(c change) bool { return c.id == id })
	if i < 0 {
		return change{}, false
	}
	return got[i], true
}

func TestSpeakerFromSilence(t *testing.T) {
	const end = 4 * time.Second
	tests := []struct {
		name   string
		lo, hi int
		noisy  bool
		tick   time.Duration
	}{
		{"normal speech, tick 100ms", 30, 45, false, 100 * time.Millisecond},
		{"quiet speech", 42, 50, false, 100 * time.Millisecond},
		{"loud speech, noisy silence", 20, 30, true, 100 * time.Millisecond},
		{"tick 300ms", 30, 45, false, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(50) {
				rng := rand.New(rand.NewPCG(seed, 2))
				ev := speech(rng, "A", end, tt.noisy, talk{time.Second, end, tt.lo, tt.hi})
				ev = append(ev, speech(rng, "B", end, tt.noisy)...)
				got := replay(t, newDetector(t), ev, end, tt.tick, "A", "B")
				if len(got) != 1 || got[0].id != "A" {
					t.Fatalf("seed %d: changes %v, want only A", seed, got)
				}
				if lat := got[0].at - time.Second; lat > 1500*time.Millisecond {
					t.Fatalf("seed %d: A dominant after %v, want within 1.5s", seed, lat)
				}
			}
		})
	}
}

func TestSpeakerIgnoresShortSounds(t *testing.T) {
	const end = 10 * time.Second
	tests := []struct {
		name  string
		burst time.Duration
		level int
	}{
		{"200ms cough", 200 * time.Millisecond, 20},
		{"300ms cough", 300 * time.Millisecond, 15},
		{"320ms hm", 320 * time.Millisecond, 35},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(50) {
				rng := rand.New(rand.NewPCG(seed, 3))
				var spans []talk
				for at := 500 * time.Millisecond; at < end; at += 1500 * time.Millisecond {
					spans = append(spans, talk{at, at + tt.burst, tt.level, tt.level + 5})
				}
				// Alone in the room: nobody else to prefer, still never dominant.
				ev := burst(rng, "C", end, spans)
				if got := replay(t, newDetector(t), ev, end, 100*time.Millisecond, "C"); len(got) != 0 {
					t.Fatalf("seed %d: a lone %v burst became dominant: %v", seed, tt.burst, got)
				}
			}
		})
	}
}

// burst scripts uninterrupted sound during spans at levels drawn from each
// span's range, silence (127) elsewhere.
func burst(rng *rand.Rand, id string, end time.Duration, spans []talk) []levelEvent {
	var out []levelEvent
	for t := time.Duration(0); t < end; t += packetInterval {
		level := uint8(silentLevel)
		for _, s := range spans {
			if t >= s.from && t < s.to {
				level = uint8(s.lo + rng.IntN(s.hi-s.lo+1))
			}
		}
		out = append(out, levelEvent{at: t + time.Duration(rng.IntN(16))*time.Millisecond, id: id, level: level})
	}
	return out
}

func TestSpeakerIgnoresInterjection(t *testing.T) {
	// A talks for 10 s; B interjects at 4 s. A short one ("yeah", 320 ms)
	// must never take over, however loud. A longer one ("yes, right",
	// 600 ms) at A's level must not either, except where A's own pauses in
	// the script happen to make B look clearly louder: at most 5% of scripts.
	const end = 10 * time.Second
	tests := []struct {
		name     string
		length   time.Duration
		lo, hi   int
		maxTaken int
	}{
		{"320ms, louder", 320 * time.Millisecond, 20, 25, 0},
		{"600ms, same level", 600 * time.Millisecond, 32, 40, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			taken := 0
			for seed := range uint64(100) {
				rng := rand.New(rand.NewPCG(seed, 4))
				ev := speech(rng, "A", end, false, talk{0, end, 32, 40})
				ev = append(ev, burst(rng, "B", end, []talk{{4 * time.Second, 4*time.Second + tt.length, tt.lo, tt.hi}})...)
				got := replay(t, newDetector(t), ev, end, 100*time.Millisecond, "A", "B")
				if len(got) == 0 || got[0].id != "A" {
					t.Fatalf("seed %d: changes %v, want A first", seed, got)
				}
				if len(got) > 1 {
					taken++
				}
			}
			if taken > tt.maxTaken {
				t.Fatalf("interjection took over in %d of 100 scripts, want at most %d", taken, tt.maxTaken)
			}
			t.Logf("interjection took over in %d of 100 scripts", taken)
		})
	}
}

func TestSpeakerNoisyMicrophone(t *testing.T) {
	// B's microphone sends constant fan noise at -50 dBov, louder than the
	// voiced threshold; the noise floor must gate it, so A, who speaks at
	// 1 s after both were silent, becomes dominant and B never does.
	const end = 6 * time.Second
	rng := rand.New(rand.NewPCG(5, 5))
	ev := speech(rng, "A", end, false, talk{time.Second, end, 30, 45})
	ev = append(ev, burst(rng, "B", end, []talk{{0, end, 48, 52}})...)
	got := replay(t, newDetector(t), ev, end, 100*time.Millisecond, "A", "B")
	if len(got) != 1 || got[0].id != "A" {
		t.Fatalf("changes %v, want A only", got)
	}
}

func TestSpeakerRemove(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		bTalks    bool
		remove    string
		wantAfter string
		changed   bool
	}{
		{"dominant removed, other talking", true, "A", "B", true},
		{"dominant removed, room silent", false, "A", "", true},
		{"other removed", true, "B", "A", false},
		{"unknown removed", true, "Z", "A", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDetector(t)
			d.AddSpeaker("A")
			d.AddSpeaker("B")
			d.AddSpeaker("A") // idempotent
			now := base
			step := func(a, b uint8) {
				d.Observe("A", a, true, now)
				d.Observe("B", b, true, now)
				now = now.Add(packetInterval)
			}
			for range 10 { // a silent start sets a clean noise floor
				step(silentLevel, silentLevel)
			}
			for range 100 { // A talks alone for 2 s
				step(35, silentLevel)
			}
			if dom, changed := d.Tick(now); dom != "A" || !changed {
				t.Fatalf("Tick = %q, %v; want A, true", dom, changed)
			}
			bLevel := uint8(silentLevel)
			if tt.bTalks {
				bLevel = 38
			}
			for range 50 { // both talk for 1 s; B is quieter, A stays
				step(35, bLevel)
			}
			if dom, changed := d.Tick(now); dom != "A" || changed {
				t.Fatalf("Tick = %q, %v; want A, false", dom, changed)
			}
			d.RemoveSpeaker(tt.remove)
			d.Observe(tt.remove, 20, true, now) // ignored once removed
			step(35, bLevel)
			if dom, changed := d.Tick(now); dom != tt.wantAfter || changed != tt.changed {
				t.Fatalf("after removing %s: Tick = %q, %v; want %q, %v", tt.remove, dom, changed, tt.wantAfter, tt.changed)
			}
		})
	}
}

func TestSpeakersList(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := newDetector(t)
	for _, id := range []string{"A", "B", "C", "D"} {
		d.AddSpeaker(id)
	}
	now := base
	for _, id := range []string{"A", "B", "C", "D"} {
		d.Observe(id, silentLevel, false, now)
	}
	now = now.Add(packetInterval)
	for range 25 {
		d.Observe("A", 40, true, now)
		d.Observe("B", 25, true, now)
		d.Observe("C", silentLevel, false, now)
		d.Observe("D", 70, false, now) // heard, never voiced: not listed
		now = now.Add(packetInterval)
	}
	got := d.Speakers(now)
	if len(got) != 2 || got[0].ID != "B" || got[1].ID != "A" {
		t.Fatalf("Speakers = %v, want B then A", got)
	}
	if got[0].Level != 1 || got[1].Level <= 0.5 || got[1].Level >= got[0].Level {
		t.Fatalf("levels %v: want B at 1, A between 0.5 and B", got)
	}
	// 300 ms of silence later nobody is listed.
	if got := d.AppendSpeakers(got[:0], now.Add(400*time.Millisecond)); len(got) != 0 {
		t.Fatalf("Speakers after silence = %v, want none", got)
	}
}

func TestSpeakerTimeQuirks(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := newDetector(t)
	d.AddSpeaker("A")
	d.Observe("unknown", 30, true, base) // ignored
	d.Observe("A", silentLevel, false, base)
	now := base.Add(packetInterval)
	for range 100 {
		d.Observe("A", 35, true, now)
		now = now.Add(packetInterval)
	}
	if dom, _ := d.Tick(now); dom != "A" {
		t.Fatalf("Tick = %q, want A", dom)
	}
	// A Tick with an earlier time, a packet from before the window, and a
	// gap of a minute must neither panic nor change the decision.
	if dom, changed := d.Tick(base); dom != "A" || changed {
		t.Fatalf("Tick(past) = %q, %v", dom, changed)
	}
	d.Observe("A", 30, true, base.Add(-time.Hour))
	if dom, changed := d.Tick(now.Add(time.Minute)); dom != "A" || changed {
		t.Fatalf("Tick(+1m) = %q, %v; the last dominant speaker is kept in silence", dom, changed)
	}
}

func TestSpeakerOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  SpeakerOption
		ok   bool
	}{
		{"thresholds", WithDecisionThresholds(3, 2, 0), true},
		{"negative threshold", WithDecisionThresholds(3, -1, 0), false},
		{"NaN threshold", WithDecisionThresholds(3, 2, nanValue()), false},
		{"min speech", WithMinSpeech(500 * time.Millisecond), true},
		{"min speech zero", WithMinSpeech(0), false},
		{"min speech too long", WithMinSpeech(2 * time.Second), false},
		{"voice flag", WithVoiceActivityFlag(true), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSpeakerDetector(tt.opt)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidOption)) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func TestSpeakerVoiceFlag(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, require := range []bool{false, true} {
		d := newDetector(t, WithVoiceActivityFlag(require))
		d.AddSpeaker("A")
		d.Observe("A", silentLevel, false, base)
		now := base.Add(packetInterval)
		for range 100 {
			d.Observe("A", 35, false, now) // loud, but the sender's VAD says no
			now = now.Add(packetInterval)
		}
		if dom, _ := d.Tick(now); (dom == "A") == require {
			t.Fatalf("require V=%v: dominant %q", require, dom)
		}
	}
}

func TestActivityScore(t *testing.T) {
	// The score grows with activity on the medium and long scales (the
	// ratios the decision uses) and is floored for silence.
	tb := newScoreTables()
	if tb.imm[0] != dsiMinScore || tb.med[0] != dsiMinScore || tb.long[0] != dsiMinScore {
		t.Fatal("silence must score the floor")
	}
	for i := 1; i < len(tb.long); i++ {
		if tb.long[i] < tb.long[i-1] {
			t.Fatalf("long score not monotonic at %d", i)
		}
	}
	for i := 1; i < len(tb.med); i++ {
		if tb.med[i] < tb.med[i-1] {
			t.Fatalf("medium score not monotonic at %d", i)
		}
	}
}
