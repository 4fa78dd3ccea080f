package bwe

import (
	"fmt"
	"testing"
)

// camera returns a three-layer camera subscription at the bots' rates.
func camera(id, pub string, w, h int) SubscriptionInfo {
	return SubscriptionInfo{
		TrackID: id, PublisherID: pub, Width: w, Height: h, MaxLayer: -1,
		Layers: []Layer{
			{Width: 320, Height: 180, BitrateBps: 150_000, Live: true},
			{Width: 640, Height: 360, BitrateBps: 500_000, Live: true},
			{Width: 1280, Height: 720, BitrateBps: 1_300_000, Live: true},
		},
	}
}

func audio(id string) SubscriptionInfo {
	return SubscriptionInfo{TrackID: id, Audio: true, Layers: []Layer{{BitrateBps: 40_000, Live: true}}}
}

func spatials(a []Allocation) string {
	s := ""
	for _, x := range a {
		switch {
		case x.Skip:
			s += "s"
		case x.Spatial < 0:
			s += "p"
		default:
			s += fmt.Sprint(x.Spatial)
			if x.Temporal >= 0 {
				s += fmt.Sprintf("t%d", x.Temporal)
			}
		}
	}
	return s
}

func TestAllocate(t *testing.T) {
	screen := camera("s", "B", 1280, 720)
	screen.Screen = true
	temporal := camera("t", "C", 1280, 720)
	for i := range temporal.Layers {
		temporal.Layers[i].Temporal = 3
	}
	hidden := camera("h", "D", 0, 0)
	hidden.Hidden = true
	tests := []struct {
		name     string
		budget   int
		infos    []SubscriptionInfo
		dominant string
		want     string
	}{
		{"everything fits", 5_000_000, []SubscriptionInfo{audio("a"), camera("v", "A", 1280, 720)}, "", "02"},
		{"800k gives the middle layer", 800_000, []SubscriptionInfo{audio("a"), camera("v", "A", 1280, 720)}, "", "01"},
		{"tile size caps the layer", 5_000_000, []SubscriptionInfo{camera("v", "A", 320, 180)}, "", "0"},
		{"max layer caps", 5_000_000, []SubscriptionInfo{{TrackID: "v", Width: 1280, Height: 720, MaxLayer: 1, Layers: camera("", "", 0, 0).Layers}}, "", "1"},
		{"audio reserved, nothing fits: pause", 150_000, []SubscriptionInfo{audio("a"), camera("v", "A", 1280, 720)}, "", "0p"},
		{"speaker first, others lowest", 1_300_000, []SubscriptionInfo{
			audio("a1"), audio("a2"), audio("a3"), audio("a4"),
			camera("v1", "P1", 1280, 720), camera("v2", "P2", 1280, 720), camera("v3", "P3", 1280, 720), camera("v4", "P4", 1280, 720),
		}, "P3", "00000010"},
		{"speaker held below its tile: others stay lowest", 1_200_000, []SubscriptionInfo{
			audio("a1"), audio("a2"), camera("v1", "P1", 1280, 720), camera("v2", "P2", 1280, 720),
		}, "P2", "0001"},
		{"speaker at its tile: others get the rest", 2_500_000, []SubscriptionInfo{
			camera("v1", "P1", 1280, 720), camera("v2", "P2", 640, 360), camera("v3", "P3", 1280, 720),
		}, "P2", "211"},
		{"no speaker: greedy in rank order", 1_200_000, []SubscriptionInfo{
			camera("v1", "P1", 1280, 720), camera("v2", "P2", 1280, 720),
		}, "", "11"},
		{"screen before speaker", 800_000, []SubscriptionInfo{camera("v", "A", 1280, 720), screen}, "A", "01"},
		{"large tile before small", 900_000, []SubscriptionInfo{camera("small", "A", 640, 360), camera("big", "B", 1280, 720)}, "", "01"},
		{"lowest priority paused first", 200_000, []SubscriptionInfo{camera("v1", "A", 640, 360), camera("v2", "B", 1280, 720)}, "", "p0"},
		{"temporal layers before a pause", 100_000, []SubscriptionInfo{temporal}, "", "0t1"},
		{"hidden tile untouched", 5_000_000, []SubscriptionInfo{hidden}, "", "s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := spatials(Allocate(tt.budget, tt.infos, tt.dominant, nil, 0))
			if got != tt.want {
				t.Fatalf("allocation %s, want %s", got, tt.want)
			}
		})
	}
}

// Below a speaker held under its tile, a thumbnail keeps the layer it has
// (it fits), but another is not raised to one.
func TestAllocateHeldSpeakerKeepsPresent(t *testing.T) {
	infos := []SubscriptionInfo{
		audio("a1"), audio("a2"), camera("v1", "P1", 1280, 720), camera("v2", "P2", 1280, 720), camera("v3", "P3", 1280, 720),
	}
	// 80 k audio + 3 x 150 k lowest + the speaker's middle (+350 k) = 880 k;
	// 1.3 M leaves 420 k: room for one more middle layer, not the top.
	cur := []Allocation{{Skip: true}, {Skip: true}, {Spatial: 0, Temporal: -1}, {Spatial: 1, Temporal: -1}, {Spatial: 0, Temporal: -1}}
	if got := spatials(Allocate(1_300_000, infos, "P3", cur, 0)); got != "00011" {
		t.Fatalf("allocation %s, want 00011 (v2 keeps its middle layer)", got)
	}
	if got := spatials(Allocate(1_300_000, infos, "P3", nil, 0)); got != "00001" {
		t.Fatalf("allocation %s without present layers, want 00001 (nobody raised under the speaker)", got)
	}
}

// The present layer is kept within the slack, not dropped on noise.
func TestAllocateKeepsPresentWithinSlack(t *testing.T) {
	infos := []SubscriptionInfo{camera("v", "A", 1280, 720)}
	cur := []Allocation{{Spatial: 1, Temporal: -1}}
	if got := spatials(Allocate(450_000, infos, "", cur, 90_000)); got != "1" {
		t.Fatalf("with slack: %s, want 1", got)
	}
	if got := spatials(Allocate(450_000, infos, "", nil, 90_000)); got != "0" {
		t.Fatalf("without a present choice: %s, want 0", got)
	}
}

func TestNextStep(t *testing.T) {
	infos := []SubscriptionInfo{audio("a"), camera("v", "A", 1280, 720)}
	allocs := Allocate(800_000, infos, "", nil, 0)
	step, ok := nextStep(infos, allocs, "")
	if !ok || step != 40_000+1_300_000 {
		t.Fatalf("next step %d %v, want 1340000", step, ok)
	}
	if _, ok := nextStep(infos, Allocate(5_000_000, infos, "", nil, 0), ""); ok {
		t.Fatal("a next step when everything is allocated")
	}
}
