// Command bweplot draws the bandwidth scenarios' time series (the CSV files
// e2e/bwe writes under e2e/out/) as PNG charts, with the standard library
// only:
//
//	go run ./cmd/bweplot -in e2e/out -out docs/bwe
//
// Top panel, bit/s over time: link cap (grey), usable estimate (blue),
// pion GCC's delay-based target (light blue), acknowledged rate (green),
// allocated media (orange). Bottom panel: per video track the layer the
// server targets (thin) and the layer received (thick), one color per
// track, and the loss per sample as red bars. Grid: 1 s, 500 kbit/s.
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	in := flag.String("in", "e2e/out", "directory with the scenario CSV files")
	out := flag.String("out", "docs/bwe", "directory for the PNG files")
	flag.Parse()
	if err := run(*in, *out, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bweplot:", err)
		os.Exit(1)
	}
}

func run(in, out string, log io.Writer) error {
	files, err := filepath.Glob(filepath.Join(in, "*.csv"))
	if err != nil {
		return fmt.Errorf("list %s: %w", in, err)
	}
	if len(files) == 0 {
		return fmt.Errorf("%w in %s", errNoData, in)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("output dir: %w", err)
	}
	for _, f := range files {
		s, err := readSeries(f)
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(filepath.Base(f), ".csv") + ".png"
		if err := writePNG(filepath.Join(out, name), draw(s)); err != nil {
			return err
		}
		fmt.Fprintf(log, "%s -> %s\n", f, filepath.Join(out, name))
	}
	return nil
}

var errNoData = errors.New("no CSV files")

// series is one scenario's columns by name.
type series struct {
	cols map[string][]float64
	n    int
}

func readSeries(path string) (*series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%s: %w", path, errNoData)
	}
	s := &series{cols: map[string][]float64{}, n: len(rows) - 1}
	for _, r := range rows[1:] {
		for i, h := range rows[0] {
			v, err := strconv.ParseFloat(r[i], 64)
			if err != nil {
				v = 0
				if r[i] == "true" {
					v = 1
				}
			}
			s.cols[h] = append(s.cols[h], v)
		}
	}
	return s, nil
}

// Chart geometry.
const (
	width, height  = 960, 540
	left, right    = 60, 20
	top1, bottom1  = 20, 360 // rates panel
	top2, bottom2  = 390, 510
	secondsGrid    = 1.0
	kbpsGrid       = 500.0
	maxLayerOnAxis = 2
)

// palette holds the chart colors.
type palette struct {
	bg, grid, axis, link, estimate, gcc, acked, alloc, loss color.RGBA
	tracks                                                  []color.RGBA
}

func colors() palette {
	return palette{
		bg: color.RGBA{255, 255, 255, 255}, grid: color.RGBA{230, 230, 230, 255}, axis: color.RGBA{90, 90, 90, 255},
		link: color.RGBA{150, 150, 150, 255}, estimate: color.RGBA{30, 80, 220, 255}, gcc: color.RGBA{120, 180, 250, 255},
		acked: color.RGBA{40, 160, 60, 255}, alloc: color.RGBA{240, 140, 20, 255}, loss: color.RGBA{220, 30, 30, 255},
		tracks: []color.RGBA{{120, 40, 160, 255}, {0, 150, 150, 255}, {200, 60, 120, 255}, {110, 110, 0, 255}},
	}
}

func draw(s *series) *image.RGBA {
	p := colors()
	grid, axis := p.grid, p.axis
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, img.Bounds(), p.bg)
	ts := s.cols["t_s"]
	tMax := ts[len(ts)-1]
	yMax := 1000.0
	for _, c := range []string{"link_kbps", "estimate_kbps", "acked_kbps", "allocated_kbps"} {
		for _, v := range s.cols[c] {
			yMax = max(yMax, v)
		}
	}
	yMax = min(yMax, 6000) * 1.05
	x := func(t float64) int { return left + int(t/tMax*float64(width-left-right)) }
	y1 := func(v float64) int { return bottom1 - int(v/yMax*float64(bottom1-top1)) }
	y2 := func(l float64) int {
		return bottom2 - int((l+1)/(maxLayerOnAxis+1)*float64(bottom2-top2))
	}
	for t := 0.0; t <= tMax; t += secondsGrid {
		vline(img, x(t), top1, bottom1, grid)
		vline(img, x(t), top2, bottom2, grid)
		label(img, x(t)-4, bottom2+8, strconv.Itoa(int(t)), axis)
	}
	for v := 0.0; v <= yMax; v += kbpsGrid {
		hline(img, left, width-right, y1(v), grid)
		label(img, 4, y1(v)-3, strconv.Itoa(int(v)), axis)
	}
	for l := -1.0; l <= maxLayerOnAxis; l++ {
		hline(img, left, width-right, y2(l), grid)
		label(img, 40, y2(l)-3, strconv.Itoa(int(l)), axis)
	}
	vline(img, left, top1, bottom1, axis)
	hline(img, left, width-right, bottom1, axis)
	vline(img, left, top2, bottom2, axis)
	hline(img, left, width-right, bottom2, axis)
	for _, c := range []struct {
		col   string
		color color.RGBA
		thick int
	}{
		{"link_kbps", p.link, 2}, {"gcc_kbps", p.gcc, 1}, {"acked_kbps", p.acked, 1},
		{"allocated_kbps", p.alloc, 1}, {"estimate_kbps", p.estimate, 2},
	} {
		plot(img, ts, s.cols[c.col], x, y1, c.color, c.thick)
	}
	for i, loss := range s.cols["loss_pct"] {
		if loss > 0 {
			h := int(min(loss, 100) / 100 * float64(bottom2-top2))
			fill(img, image.Rect(x(ts[i]), bottom2-h, x(ts[i])+2, bottom2), p.loss)
		}
	}
	for k := 0; ; k++ {
		tgt, ok := s.cols[fmt.Sprintf("target_layer_%d", k)]
		if !ok {
			break
		}
		c := p.tracks[k%len(p.tracks)]
		off := func(l float64) int { return y2(l) - 2*k }
		plot(img, ts, tgt, x, off, c, 1)
		plot(img, ts, s.cols[fmt.Sprintf("recv_layer_%d", k)], x, func(l float64) int { return off(l) + 1 }, c, 3)
	}
	return img
}

// plot draws a step line through (xs, ys).
func plot(img *image.RGBA, xs, ys []float64, x, y func(float64) int, c color.RGBA, thick int) {
	for i := 1; i < len(xs) && i < len(ys); i++ {
		x0, x1 := x(xs[i-1]), x(xs[i])
		y0, yy := y(ys[i-1]), y(ys[i])
		for d := 0; d < thick; d++ {
			hline(img, x0, x1, y0+d, c)
			vline(img, x1+d, min(y0, yy), max(y0, yy), c)
		}
	}
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for yy := r.Min.Y; yy < r.Max.Y; yy++ {
		for xx := r.Min.X; xx < r.Max.X; xx++ {
			img.SetRGBA(xx, yy, c)
		}
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	fill(img, image.Rect(min(x0, x1), y, max(x0, x1)+1, y+1), c)
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	fill(img, image.Rect(x, min(y0, y1), x+1, max(y0, y1)+1), c)
}

// digits is a 3x5 pixel font for axis labels: one row per line, three bits
// per row, most significant bit left.
func digit(r rune) [5]uint8 {
	switch r {
	case '0':
		return [5]uint8{7, 5, 5, 5, 7}
	case '1':
		return [5]uint8{2, 6, 2, 2, 7}
	case '2':
		return [5]uint8{7, 1, 7, 4, 7}
	case '3':
		return [5]uint8{7, 1, 7, 1, 7}
	case '4':
		return [5]uint8{5, 5, 7, 1, 1}
	case '5':
		return [5]uint8{7, 4, 7, 1, 7}
	case '6':
		return [5]uint8{7, 4, 7, 5, 7}
	case '7':
		return [5]uint8{7, 1, 1, 1, 1}
	case '8':
		return [5]uint8{7, 5, 7, 5, 7}
	case '9':
		return [5]uint8{7, 5, 7, 1, 7}
	case '-':
		return [5]uint8{0, 0, 7, 0, 0}
	default:
		return [5]uint8{}
	}
}

// label draws digits at (x, y), 2x scaled.
func label(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for i, r := range s {
		g := digit(r)
		for row := range 5 {
			for col := range 3 {
				if g[row]&(4>>col) != 0 {
					fill(img, image.Rect(x+i*8+col*2, y+row*2, x+i*8+col*2+2, y+row*2+2), c)
				}
			}
		}
	}
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := png.Encode(f, img); err != nil {
		_ = f.Close()
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}
