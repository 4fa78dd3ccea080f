// Command hibiki-plot draws the per-second series of hibiki-bots JSON
// reports as a PNG, with the standard library only: one panel per measure
// (tracks receiving, kbps received, frames per second, freezes), one
// colored line per report.
//
//	go run ./cmd/hibiki-plot -o run.png run.json [other.json ...]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// report is the part of a hibiki-bots JSON report that is plotted.
type report struct {
	Scenario string  `json:"scenario"`
	Series   []point `json:"series"`
}

type point struct {
	T               float64 `json:"t"`
	TracksReceiving int     `json:"tracks_receiving"`
	Kbps            float64 `json:"kbps"`
	Frames          uint64  `json:"frames"`
	Freezes         int     `json:"freezes"`
}

var errUsage = errors.New("usage: hibiki-plot [-o out.png] [-w 1000] report.json ...")

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hibiki-plot:", err)
		os.Exit(2)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("hibiki-plot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "series.png", "PNG file to write")
	width := fs.Int("w", 1000, "image width in pixels")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 || *width < 200 {
		return errUsage
	}
	var reps []report
	var names []string
	for _, path := range fs.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read report: %w", err)
		}
		var r report
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(r.Series) == 0 {
			return fmt.Errorf("%s: no series (written by an older hibiki-bots?)", path)
		}
		reps = append(reps, r)
		names = append(names, strings.TrimSuffix(filepath.Base(path), ".json"))
	}
	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if err := plot(f, reps, names, *width); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}
