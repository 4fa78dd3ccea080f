package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"
)

// measure is one panel: a name and how to read it from the series.
type measure struct {
	name  string
	value func(s []point, i int) float64
}

func measures() []measure {
	return []measure{
		{"tracks receiving", func(s []point, i int) float64 { return float64(s[i].TracksReceiving) }},
		{"kbps received", func(s []point, i int) float64 { return s[i].Kbps }},
		{"frames per second", func(s []point, i int) float64 {
			if i == 0 {
				return 0
			}
			dt := s[i].T - s[i-1].T
			if dt <= 0 || s[i].Frames < s[i-1].Frames {
				return 0
			}
			return float64(s[i].Frames-s[i-1].Frames) / dt
		}},
		{"freezes (total)", func(s []point, i int) float64 { return float64(s[i].Freezes) }},
	}
}

// palette colors the reports' lines in order.
func palette() []color.RGBA {
	return []color.RGBA{{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255}, {148, 103, 189, 255}, {255, 127, 14, 255}}
}

const (
	panelH  = 170
	marginL = 70
	marginR = 20
	marginT = 28
	gap     = 22
)

// plot draws the reports' series into one PNG written to w; names label
// the lines in the legend.
func plot(w io.Writer, reps []report, names []string, width int) error {
	ms := measures()
	height := marginT + len(ms)*(panelH+gap+marginT) + 10
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	font := glyphs()
	tmax := 1.0
	for _, r := range reps {
		tmax = math.Max(tmax, r.Series[len(r.Series)-1].T)
	}
	for j, name := range names {
		c := palette()[j%len(palette())]
		x := width - marginR - textWidth(name, 1) - 14
		y := 4 + j*9
		draw.Draw(img, image.Rect(x, y, x+8, y+6), image.NewUniform(c), image.Point{}, draw.Src)
		drawText(img, font, x+12, y, 1, name, color.Black)
	}
	for k, m := range ms {
		top := marginT + k*(panelH+gap+marginT)
		box := image.Rect(marginL, top, width-marginR, top+panelH)
		vmax := 0.0
		for _, r := range reps {
			for i := range r.Series {
				vmax = math.Max(vmax, m.value(r.Series, i))
			}
		}
		vmax = niceCeil(vmax)
		drawText(img, font, marginL, top-16, 2, m.name, color.Black)
		axes(img, font, box, tmax, vmax)
		for j, r := range reps {
			c := palette()[j%len(palette())]
			for i := 1; i < len(r.Series); i++ {
				x0, y0 := scale(box, r.Series[i-1].T, m.value(r.Series, i-1), tmax, vmax)
				x1, y1 := scale(box, r.Series[i].T, m.value(r.Series, i), tmax, vmax)
				line(img, x0, y0, x1, y1, c)
			}
		}
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return nil
}

// axes draws the panel frame, four horizontal grid lines with their values
// and time ticks in seconds.
func axes(img *image.RGBA, font map[rune][5]uint8, box image.Rectangle, tmax, vmax float64) {
	grid := color.RGBA{225, 225, 225, 255}
	for g := 0; g <= 4; g++ {
		y := box.Max.Y - g*box.Dy()/4
		line(img, box.Min.X, y, box.Max.X, y, grid)
		label := strconv.FormatFloat(vmax*float64(g)/4, 'f', -1, 64)
		if len(label) > 7 {
			label = strconv.FormatFloat(vmax*float64(g)/4, 'f', 0, 64)
		}
		drawText(img, font, box.Min.X-6-textWidth(label, 2), y-5, 2, label, color.Black)
	}
	step := niceCeil(tmax / 8)
	for t := 0.0; t <= tmax+1e-9; t += step {
		x, _ := scale(box, t, 0, tmax, 1)
		line(img, x, box.Max.Y, x, box.Max.Y+4, color.Black)
		label := strconv.FormatFloat(t, 'f', -1, 64)
		drawText(img, font, x-textWidth(label, 1)/2, box.Max.Y+7, 1, label, color.Black)
	}
	drawText(img, font, box.Max.X-textWidth("seconds", 1), box.Max.Y+14, 1, "seconds", color.Black)
	line(img, box.Min.X, box.Min.Y, box.Min.X, box.Max.Y, color.Black)
	line(img, box.Min.X, box.Max.Y, box.Max.X, box.Max.Y, color.Black)
}

func scale(box image.Rectangle, t, v, tmax, vmax float64) (int, int) {
	x := box.Min.X + int(math.Round(t/tmax*float64(box.Dx())))
	y := box.Max.Y - int(math.Round(v/vmax*float64(box.Dy())))
	return x, y
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for v <= 0).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// line draws a 2-pixel line from (x0, y0) to (x1, y1) (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		img.Set(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
