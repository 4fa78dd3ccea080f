package sfu

import "testing"

// qhf returns three live layers with known sizes and bitrates.
func qhf() []LayerInfo {
	return []LayerInfo{
		{Width: 320, Height: 180, BitrateBps: 150_000, Live: true},
		{Width: 640, Height: 360, BitrateBps: 500_000, Live: true},
		{Width: 1280, Height: 720, BitrateBps: 1_500_000, Live: true},
	}
}

func TestSelectLayer(t *testing.T) {
	dead := func(ls []LayerInfo, idx ...int) []LayerInfo {
		for _, i := range idx {
			ls[i].Live = false
		}
		return ls
	}
	unknown := func(ls []LayerInfo) []LayerInfo {
		for i := range ls {
			ls[i].Width, ls[i].Height = 0, 0
		}
		return ls
	}
	tests := []struct {
		name         string
		layers       []LayerInfo
		w, h, max    int
		budget, want int
	}{
		{"small tile gets the low layer", qhf(), 200, 100, 2, 0, 0},
		{"exact fit", qhf(), 640, 360, 2, 0, 1},
		{"slightly larger than a layer goes up", qhf(), 641, 360, 2, 0, 2},
		{"larger than everything gets the largest", qhf(), 3840, 2160, 2, 0, 2},
		{"no size preference gets the largest", qhf(), 0, 0, 2, 0, 2},
		{"height only", qhf(), 0, 300, 2, 0, 1},
		{"capped by maxLayer", qhf(), 1280, 720, 1, 0, 1},
		{"maxLayer beyond the layers", qhf(), 1280, 720, 9, 0, 2},
		{"negative maxLayer", qhf(), 1280, 720, -1, 0, -1},
		{"budget lowers the layer", qhf(), 1280, 720, 2, 600_000, 1},
		{"budget fits exactly", qhf(), 1280, 720, 2, 1_500_000, 2},
		{"budget below the lowest layer", qhf(), 1280, 720, 2, 100_000, -1},
		{"covering layer dead: next larger live", dead(qhf(), 1), 640, 360, 2, 0, 2},
		{"larger layers dead: largest live", dead(qhf(), 2), 1280, 720, 2, 0, 1},
		{"budget skips a dead layer", dead(qhf(), 1), 1280, 720, 2, 600_000, 0},
		{"none live", dead(qhf(), 0, 1, 2), 640, 360, 2, 0, -1},
		{"no layers", nil, 640, 360, 2, 0, -1},
		{"unknown sizes follow q/h/f", unknown(qhf()), 640, 360, 2, 0, 1},
		{"unknown sizes, big tile", unknown(qhf()), 700, 400, 2, 0, 2},
		{"unknown bitrate fits any budget", []LayerInfo{{Live: true}, {Live: true}}, 640, 360, 2, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SelectLayer(tt.layers, tt.w, tt.h, tt.max, tt.budget); got != tt.want {
				t.Fatalf("SelectLayer = %d, want %d", got, tt.want)
			}
		})
	}
}
