// Command hibiki-bench is hibiki's benchmark harness (make bench): it
// starts the server binary as its own process on its own ports, runs each
// load scenario against it with hibiki-bots as another process, samples
// the server's CPU time (utime+stime, /proc/PID/stat) and RSS
// (/proc/PID/status) while it runs, and prints a Markdown table next to
// the per-packet floor of this machine (SRTP protect + UDP send).
//
//	go build -o bin/ ./cmd/hibiki ./cmd/hibiki-bots
//	go run ./cmd/hibiki-bench --server bin/hibiki --bots bin/hibiki-bots \
//	    [--run "webinar --subscribers 50"]... [--duration 40s] [--repeat 2] \
//	    [--md out.md] [--profile DIR]
//
// CPU per forwarded packet is measured in the steady state: from 2 s after
// every expected track first received a frame (the bots' report says when)
// to the bots' last sample, divided by the packets the bots received in
// that window. The join phase is reported separately (join->first frame).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// defaultRuns are the scenarios of make bench.
func defaultRuns() []string {
	return []string{
		"--scenario webinar --subscribers 50",
		"--scenario webinar --subscribers 150 --ramp 25/s",
		"--scenario meeting --publishers 6 --tile 320x180",
		"--scenario audio --publishers 3 --subscribers 100 --ramp 50/s",
	}
}

type runList []string

func (r *runList) String() string     { return strings.Join(*r, "; ") }
func (r *runList) Set(v string) error { *r = append(*r, v); return nil }

var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hibiki-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg benchConfig
	var runs runList
	fs := flag.NewFlagSet("hibiki-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.server, "server", "bin/hibiki", "hibiki server binary")
	fs.StringVar(&cfg.bots, "bots", "bin/hibiki-bots", "hibiki-bots binary")
	fs.DurationVar(&cfg.duration, "duration", 40*time.Second, "bots run time per scenario, joins included")
	fs.Var(&runs, "run", "hibiki-bots arguments of one scenario (repeatable; default: the make bench set)")
	repeat := fs.Int("repeat", 1, "runs of each scenario")
	md := fs.String("md", "", "also write the table to this Markdown file")
	fs.StringVar(&cfg.profileDir, "profile", "", "save server CPU and heap profiles of each run in this directory")
	floorN := fs.Int("floor-n", 200000, "packets per floor measurement (0: skip, use perf-floor.md figures)")
	fs.Var(&cfg.serverEnv, "server-env", "KEY=VALUE added to the server's environment, e.g. GOGC=50 (repeatable)")
	fs.StringVar(&cfg.workDir, "work", "", "directory for logs and bots reports (default: a temporary one)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if len(runs) == 0 {
		runs = defaultRuns()
	}
	if cfg.workDir == "" {
		d, err := os.MkdirTemp("", "hibiki-bench-")
		if err != nil {
			return fmt.Errorf("work dir: %w", err)
		}
		cfg.workDir = d
	}
	for _, d := range []string{cfg.workDir, cfg.profileDir} {
		if d != "" {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("mkdir: %w", err)
			}
		}
	}
	fl := documentedFloor()
	measured := false
	if *floorN > 0 {
		fmt.Fprintln(stderr, "measuring the floor ...")
		if f, err := measureFloor(*floorN); err == nil {
			fl, measured = f, true
		} else {
			fmt.Fprintln(stderr, "floor measurement failed, using perf-floor.md figures:", err)
		}
	}
	var results []result
	for _, r := range runs {
		for i := range *repeat {
			fmt.Fprintf(stderr, "running %q (%d/%d), %s ...\n", r, i+1, *repeat, cfg.duration)
			res := runScenario(ctx, cfg, strings.Fields(r))
			if res.Err != nil {
				fmt.Fprintf(stderr, "  %v\n", res.Err)
			}
			results = append(results, res)
			if ctx.Err() != nil {
				break
			}
		}
	}
	var out strings.Builder
	writeTable(&out, machine(), fl, measured, results)
	fmt.Fprintf(&out, "\nLogs and bots reports: %s\n", cfg.workDir)
	fmt.Fprint(stdout, out.String())
	if *md != "" {
		if err := os.WriteFile(*md, []byte(out.String()), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", *md, err)
		}
	}
	return nil
}

// documentedFloor is the floor of docs/benchmarks.md (perf-floor.md), used
// when it cannot be measured.
func documentedFloor() floor {
	return floor{SRTPGCM: 690 * time.Nanosecond, SRTPCM: 2700 * time.Nanosecond,
		SendTo: 4050 * time.Nanosecond, SendMMsg: 3450 * time.Nanosecond}
}
