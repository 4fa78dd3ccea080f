package bwe

import (
	"cmp"
	"slices"
)

// Layer describes one simulcast layer of a subscribed video track as the
// allocator sees it (audio tracks have one layer: their bitrate).
type Layer struct {
	Width, Height int
	// BitrateBps is the measured bitrate of the layer (0 when unknown).
	BitrateBps int
	// Live reports that the layer is arriving from the publisher.
	Live bool
	// Temporal is the number of temporal layers seen in it (0 or 1: none).
	Temporal int
}

// SubscriptionInfo is a snapshot of what the allocator needs from one
// subscribed track.
type SubscriptionInfo struct {
	// TrackID identifies the track; PublisherID its publisher (matched
	// against the dominant speaker).
	TrackID, PublisherID string
	// Audio tracks are never cut: their bitrate is reserved first.
	Audio bool
	// Screen marks a screen share, allocated before everything else.
	Screen bool
	// Width and Height are the size the subscriber renders the track at
	// (a default when it never said); Hidden is a 0x0 tile, which gets
	// nothing and is not touched.
	Width, Height int
	Hidden        bool
	// MaxLayer caps the spatial layer (-1: no cap).
	MaxLayer int
	Layers   []Layer
}

// Allocation is the decision for one subscription.
type Allocation struct {
	// Spatial is the layer to forward, -1 when paused for lack of
	// bandwidth; Temporal the highest temporal layer (-1: all).
	Spatial, Temporal int
	// BitrateBps is what the choice is expected to cost.
	BitrateBps int
	// Skip means the allocator leaves the subscription alone (hidden tile,
	// nothing live yet).
	Skip bool
}

// Paused reports that the allocation pauses the track.
func (a Allocation) Paused() bool { return !a.Skip && a.Spatial < 0 }

// option is one step on a video track's ladder, cheapest first.
type option struct {
	spatial, temporal, bitrate int
}

// temporalShares is the cumulative share of a spatial layer's bitrate
// carried by its lower temporal layers (without the top one), for VP8 with
// n temporal layers: libwebrtc's default split.
func temporalShares(n int) []float64 {
	switch {
	case n == 2:
		return []float64{0.6}
	case n >= 3:
		return []float64{0.4, 0.6}
	default:
		return nil
	}
}

// Fallback bits per pixel per second when a layer's bitrate is not known
// (a paused encoding, or a relayed track in its first second): 0.1 bit per
// pixel at 30 frames per second, about libwebrtc's simulcast maxima (200
// kbit/s at 320x180, 700 kbit/s at 640x360, 2.5 Mbit/s at 1280x720). An
// unknown layer priced high starts a track low and lets the probes raise
// it; priced at 0.06 (the earlier value), a relayed track's middle layer
// was given at 415 kbit/s, measured 650 kbit/s a moment later, taken back
// and given again after a probe: two switches where one upgrade would do.
const fallbackBitsPerPixel = 0.1 * 30

// defaultAudioBps is reserved for an audio track whose rate is unknown.
const defaultAudioBps = 48_000

func layerCost(l Layer) int {
	if l.BitrateBps > 0 {
		return l.BitrateBps
	}
	return int(float64(l.Width*l.Height) * fallbackBitsPerPixel)
}

// ladder returns a video track's options from the cheapest to the one its
// tile wants: the lowest live layer with fewer temporal layers first, then
// each live spatial layer up to the smallest that covers the wanted size.
func ladder(s *SubscriptionInfo) []option {
	limit := len(s.Layers) - 1
	if s.MaxLayer >= 0 {
		limit = min(limit, s.MaxLayer)
	}
	var out []option
	for i := 0; i <= limit; i++ {
		l := s.Layers[i]
		if !l.Live {
			continue
		}
		cost := layerCost(l)
		if len(out) == 0 {
			for t, f := range temporalShares(l.Temporal) {
				out = append(out, option{spatial: i, temporal: t, bitrate: int(f * float64(cost))})
			}
		}
		out = append(out, option{spatial: i, temporal: -1, bitrate: cost})
		if (s.Width > 0 || s.Height > 0) && l.Width >= s.Width && l.Height >= s.Height {
			break
		}
	}
	return out
}

// rank orders video subscriptions: screen shares, then the dominant
// speaker's tracks, then larger tiles, then the rest (by id, for a stable
// order).
func rank(infos []SubscriptionInfo, dominant string) []int {
	idx := make([]int, 0, len(infos))
	for i := range infos {
		if !infos[i].Audio && !infos[i].Hidden {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		x, y := &infos[a], &infos[b]
		if c := cmp.Compare(class(x, dominant), class(y, dominant)); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Width*y.Height, x.Width*x.Height); c != 0 {
			return c
		}
		return cmp.Compare(x.TrackID, y.TrackID)
	})
	return idx
}

// Priority classes of video tracks, in rank order.
const (
	classScreen = iota
	classSpeaker
	classOther
)

// class is the priority class of a video track.
func class(s *SubscriptionInfo, dominant string) int {
	switch {
	case s.Screen:
		return classScreen
	case dominant != "" && s.PublisherID == dominant:
		return classSpeaker
	default:
		return classOther
	}
}

// Allocate spends budget (bit/s) across one subscriber's tracks. Audio is
// reserved first and never cut. Video tracks, in rank order, first each get
// the cheapest step of their ladder (a track for which even that does not
// fit is paused), then, again in rank order, each is raised to the best
// step that fits what is left: the top-ranked track gets the best layer
// that fits, the others what remains. While a screen share or the
// speaker's video is held below what its tile wants, no track of a lower
// class is raised above its present layer: what is left cannot buy the
// main view's next layer, but spent on thumbnails it would show them
// sharper than the speaker (and a layer's cost varies by a third with its
// keyframes, so which of them fitted changed from one round to the next).
// A thumbnail keeps the layer it has, though, as long as that fits: taking
// it back would not give the speaker anything, only cost a switch.
//
// current holds the subscriptions' present allocations (by index; nil or
// shorter means none): keeping a present choice gets slack bit/s of
// tolerance, so measurement noise does not flip layers back and forth.
func Allocate(budget int, infos []SubscriptionInfo, dominant string, current []Allocation, slack int) []Allocation {
	out := make([]Allocation, len(infos))
	remaining := budget
	for i := range infos {
		s := &infos[i]
		switch {
		case s.Audio:
			cost := defaultAudioBps
			if len(s.Layers) > 0 && s.Layers[0].BitrateBps > 0 {
				cost = s.Layers[0].BitrateBps
			}
			out[i] = Allocation{Spatial: 0, Temporal: -1, BitrateBps: cost}
			remaining -= cost
		case s.Hidden:
			out[i] = Allocation{Skip: true}
		}
	}
	order := rank(infos, dominant)
	ladders := make([][]option, len(infos))
	level := make([]int, len(infos))
	for _, i := range order {
		ladders[i] = ladder(&infos[i])
		level[i] = -1
		if len(ladders[i]) == 0 {
			out[i] = Allocation{Skip: true}
			continue
		}
		// Keeping a track's lowest step gets a larger tolerance than a
		// layer above it: pausing video is the most visible choice, and
		// the estimate dips right after congestion while the bottleneck
		// drains.
		if c := ladders[i][0].bitrate; c <= remaining || (isCurrent(current, i, ladders[i][0]) && c <= remaining+max(slack, c/2)) {
			level[i] = 0
			remaining -= c
		}
	}
	held := classOther + 1 // the class of a priority track held below its tile
	for _, i := range order {
		l := ladders[i]
		cls := class(&infos[i], dominant)
		if level[i] < 0 {
			continue
		}
		for up := len(l) - 1; up > level[i]; up-- {
			delta := l[up].bitrate - l[level[i]].bitrate
			keep := isCurrent(current, i, l[up])
			if cls > held && !keep {
				continue // below a held priority track: no raise, only a kept layer
			}
			if delta <= remaining || (keep && delta <= remaining+slack) {
				remaining -= delta
				level[i] = up
				break
			}
		}
		if cls < classOther && level[i] < len(l)-1 {
			held = min(held, cls)
		}
	}
	for _, i := range order {
		if out[i].Skip {
			continue
		}
		if level[i] < 0 {
			out[i] = Allocation{Spatial: -1, Temporal: -1}
			continue
		}
		o := ladders[i][level[i]]
		out[i] = Allocation{Spatial: o.spatial, Temporal: o.temporal, BitrateBps: o.bitrate}
	}
	return out
}

func isCurrent(current []Allocation, i int, o option) bool {
	return i < len(current) && !current[i].Skip && current[i].Spatial == o.spatial && current[i].Temporal == o.temporal
}

// Total is the summed cost of allocations.
func Total(allocs []Allocation) int {
	n := 0
	for _, a := range allocs {
		if !a.Skip {
			n += a.BitrateBps
		}
	}
	return n
}

// nextStep is the total cost after the smallest single upgrade of the
// allocation toward what the tiles want, in rank order; ok is false when
// every track already has what it wants.
func nextStep(infos []SubscriptionInfo, allocs []Allocation, dominant string) (int, bool) {
	total := Total(allocs)
	for _, i := range rank(infos, dominant) {
		if allocs[i].Skip {
			continue
		}
		l := ladder(&infos[i])
		for k, o := range l {
			at := allocs[i].Spatial < 0 && k == 0
			if k > 0 {
				p := l[k-1]
				at = allocs[i].Spatial == p.spatial && allocs[i].Temporal == p.temporal
			}
			if at {
				return total - allocs[i].BitrateBps + o.bitrate, true
			}
		}
	}
	return 0, false
}
