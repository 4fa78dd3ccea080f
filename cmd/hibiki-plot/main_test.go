package main

import (
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestPlotWritesAPNG(t *testing.T) {
	dir := t.TempDir()
	var pts []point
	for i := range 30 {
		pts = append(pts, point{T: float64(i + 1), TracksReceiving: min(i*10, 100), Kbps: 900 * float64(min(i, 10)),
			Frames: uint64(i * 300), Freezes: i / 20})
	}
	var paths []string
	for _, name := range []string{"a.json", "b.json"} {
		data, err := json.Marshal(report{Scenario: "webinar", Series: pts})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out := filepath.Join(dir, "s.png")
	if err := run(append([]string{"-o", out, "-w", "800"}, paths...), io.Discard); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 800 || b.Dy() < 4*panelH {
		t.Errorf("image %v", b)
	}
}

func TestPlotErrors(t *testing.T) {
	if err := run(nil, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("no args: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "e.json")
	if err := os.WriteFile(empty, []byte(`{"series":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-o", filepath.Join(t.TempDir(), "x.png"), empty}, io.Discard); err == nil {
		t.Error("a report without series plotted")
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.3: 0.5, 7: 10, 101: 200, 1999: 2000, 4000: 5000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}
