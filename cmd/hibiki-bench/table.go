package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// machine describes where the bench ran.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel := ""
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(data))
	}
	return fmt.Sprintf("%s, %d cores%s, %s", model, runtime.NumCPU(), kernel, runtime.Version())
}

func us(d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond))
}

func kib(b float64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f", b/1024)
}

// writeTable prints the results as Markdown.
func writeTable(w io.Writer, mach string, fl floor, measured bool, rs []result) {
	src := "measured now (thread CPU time)"
	if !measured {
		src = "from perf-floor.md"
	}
	fmt.Fprintf(w, "Machine: %s\n\n", mach)
	fmt.Fprintf(w, "Floor (%s): SRTP GCM %s µs + UDP sendto %s µs = **%s µs** per packet "+
		"(CM-SHA1 %s µs, sendmmsg %s µs)\n\n",
		src, us(fl.SRTPGCM), us(fl.SendTo), us(fl.total()), us(fl.SRTPCM), us(fl.SendMMsg))
	fmt.Fprintln(w, "| scenario | tracks recv/exp | fwd pkt/s | server CPU µs/pkt steady (all) | × floor | server cores | RSS KiB per sub (per video sub) | heap / stack KiB per sub | join→first frame p50/p95 ms (video) | freezes | NACKs / resent | bots cores | load1 |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		if r.Err != nil && r.TracksExpected == 0 {
			fmt.Fprintf(w, "| %s | error: %v |||||||||||\n", r.Name, r.Err)
			continue
		}
		ratio := "n/a"
		if r.CPUPerPkt > 0 && fl.total() > 0 {
			ratio = fmt.Sprintf("%.2f", float64(r.CPUPerPkt)/float64(fl.total()))
		}
		fmt.Fprintf(w, "| %s | %d/%d | %.0f | %s (%s) | %s | %.2f | %s (%s) | %s / %s | %.0f / %.0f (%.0f / %.0f) | %d | %d / %d | %.2f | %.1f |\n",
			r.Name, r.TracksOK, r.TracksExpected, r.PktsPerSec, us(r.CPUPerPkt), us(r.CPUPerPktAll), ratio,
			r.ServerCores, kib(r.RSSPerSub), kib(r.RSSPerVideoSub), kib(r.HeapPerSub), kib(r.StackPerSub),
			r.JoinP50, r.JoinP95, r.VideoJoinP50, r.VideoJoinP95, r.Freezes, r.NACKs, r.Resent, r.BotsCores, r.Load1)
	}
}
