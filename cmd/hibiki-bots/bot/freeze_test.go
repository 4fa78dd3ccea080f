package bot

import (
	"testing"
	"time"
)

func TestFreezeDetector(t *testing.T) {
	type ev struct {
		ms    int
		pause *bool // nil: a frame at ms
	}
	yes, no := true, false
	for _, tc := range []struct {
		name   string
		events []ev
		count  int
		total  time.Duration
		frozen int // ms at which frozen() is checked
		isFrz  bool
	}{
		{"steady 30 fps", []ev{{ms: 0}, {ms: 33}, {ms: 66}, {ms: 100}}, 0, 0, 120, false},
		{"one 600 ms gap", []ev{{ms: 0}, {ms: 33}, {ms: 633}, {ms: 666}}, 1, 600 * time.Millisecond, 700, false},
		{"exactly the threshold is not a freeze", []ev{{ms: 0}, {ms: 500}}, 0, 0, 510, false},
		{"gap across a mute", []ev{{ms: 0}, {ms: 10, pause: &yes}, {ms: 2000, pause: &no}, {ms: 2100}, {ms: 2133}}, 0, 0, 2140, false},
		{"ongoing freeze", []ev{{ms: 0}, {ms: 33}}, 0, 0, 700, true},
		{"no frozen while muted", []ev{{ms: 0}, {ms: 33, pause: &yes}}, 0, 0, 5000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Unix(0, 0)
			f := newFreezeDetector(freezeThreshold)
			for _, e := range tc.events {
				if e.pause != nil {
					f.setPaused(*e.pause)
					continue
				}
				f.frame(t0.Add(time.Duration(e.ms) * time.Millisecond))
			}
			if f.count != tc.count || f.total != tc.total {
				t.Errorf("count %d total %v, want %d %v", f.count, f.total, tc.count, tc.total)
			}
			if got := f.frozen(t0.Add(time.Duration(tc.frozen) * time.Millisecond)); got != tc.isFrz {
				t.Errorf("frozen = %v, want %v", got, tc.isFrz)
			}
		})
	}
}
