package sfu

// LayerInfo describes one simulcast layer of a published track as the
// allocator sees it.
type LayerInfo struct {
	// Width and Height are the encoded size; 0 when not known yet, in
	// which case the q/h/f convention (320x180 doubled per layer) is
	// assumed.
	Width, Height int
	// BitrateBps is the measured bitrate; 0 when unknown (assumed to fit).
	BitrateBps int
	// FPS is the measured frame rate (informative).
	FPS float64
	// Live reports that the layer is arriving.
	Live bool
	// Temporal is the number of VP8 temporal layers seen (0: none).
	Temporal int
}

// Default size of layer 0 when the publisher has not told us.
const (
	defaultLayerWidth  = 320
	defaultLayerHeight = 180
)

// size returns the layer's resolution, or the conventional one for index
// i when unknown.
func (l *LayerInfo) size(i int) (w, h int) {
	if l.Width > 0 && l.Height > 0 {
		return l.Width, l.Height
	}
	return defaultLayerWidth << i, defaultLayerHeight << i
}

// SelectLayer picks the layer to forward to a subscriber that renders the
// track at wantW x wantH: the smallest live layer that covers that size
// (no point sending pixels that are scaled away), or the largest live one
// when none covers it. wantW and wantH both <= 0 mean "no size known" and
// select the largest live layer. The choice is then capped at maxLayer and
// lowered to the largest live layer whose bitrate fits budgetBps (budget
// <= 0 means unlimited). Layers are indexed low to high.
//
// It returns -1 when no layer can be sent: none live, maxLayer < 0, or not
// even the lowest allowed live layer fits the budget; the caller should
// then pause the subscription.
func SelectLayer(layers []LayerInfo, wantW, wantH, maxLayer int, budgetBps int) int {
	limit := min(maxLayer, len(layers)-1)
	best := -1
	largest := -1
	for i := 0; i <= limit; i++ {
		if !layers[i].Live {
			continue
		}
		largest = i
		w, h := layers[i].size(i)
		if best < 0 && (wantW > 0 || wantH > 0) && w >= wantW && h >= wantH {
			best = i
		}
	}
	if best < 0 {
		best = largest
	}
	if budgetBps <= 0 {
		return best
	}
	for i := best; i >= 0; i-- {
		if layers[i].Live && layers[i].BitrateBps <= budgetBps {
			return i
		}
	}
	return -1
}
