package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat; it
// is 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// sample is one reading of a process's CPU time and resident memory, and
// for the server a few of its /metrics (zero when not scraped).
type sample struct {
	At  time.Time
	CPU time.Duration // utime + stime
	RSS int64         // bytes
	// Forwarded is hibiki_packets_forwarded_total; Heap and Stack are the
	// Go runtime's in-use heap and stack bytes.
	Forwarded, Resent, NACKs, Received uint64
	Heap, Stack                        int64
	Scraped                            bool
}

var errProcFormat = errors.New("unexpected /proc format")

// readProc reads /proc/PID/stat (utime, stime) and /proc/PID/status (VmRSS).
func readProc(pid int) (sample, error) {
	s := sample{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read stat: %w", err)
	}
	// The command name may hold spaces; fields are counted after its ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, errProcFormat
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 { // state is field 3 of the line, f[0]; utime and stime are 14 and 15
		return s, errProcFormat
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, errProcFormat
	}
	s.CPU = time.Duration(ut+st) * clockTick
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read status: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return s, errProcFormat
			}
			s.RSS = kb * 1024
		}
	}
	return s, nil
}

// scrape reads the few /metrics values the bench reports into s.
func scrape(client *http.Client, url string, s *sample) {
	resp, err := client.Get(url)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return
	}
	for _, line := range strings.Split(string(body), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "hibiki_packets_forwarded_total":
			s.Forwarded, s.Scraped = uint64(v), true
		case "hibiki_packets_received_total":
			s.Received = uint64(v)
		case "hibiki_packets_resent_total":
			s.Resent = uint64(v)
		case "hibiki_nacks_received_total":
			s.NACKs = uint64(v)
		case "go_memstats_heap_inuse_bytes":
			s.Heap = int64(v)
		case "go_memstats_stack_inuse_bytes":
			s.Stack = int64(v)
		}
	}
}

// sampler reads a process every interval until stopped; with a metrics
// URL it scrapes the server's /metrics with each reading.
type sampler struct {
	pid     int
	metrics string
	mu      sync.Mutex
	all     []sample
	stop    chan struct{}
	done    chan struct{}
}

func startSampler(pid int, every time.Duration, metrics string) *sampler {
	s := &sampler{pid: pid, metrics: metrics, stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: every}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if x, err := readProc(pid); err == nil {
				if metrics != "" {
					scrape(client, metrics, &x)
				}
				s.mu.Lock()
				s.all = append(s.all, x)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) finish() []sample {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all
}

// at returns the sample nearest to t (zero when there are none).
func at(all []sample, t time.Time) sample {
	var best sample
	bestD := time.Duration(1<<63 - 1)
	for _, x := range all {
		d := x.At.Sub(t)
		if d < 0 {
			d = -d
		}
		if d < bestD {
			best, bestD = x, d
		}
	}
	return best
}

// writeSamples saves the server's samples as CSV, to tell a stall of the
// publisher or the server (received and forwarded stop) from a stall of
// the bots (the server forwards, the bots' series does not grow).
func writeSamples(path string, start time.Time, all []sample) error {
	var b strings.Builder
	b.WriteString("t_s,cpu_ms,rss_kib,received,forwarded,nacks,resent,heap_kib,stack_kib\n")
	for _, s := range all {
		fmt.Fprintf(&b, "%.2f,%d,%d,%d,%d,%d,%d,%d,%d\n", s.At.Sub(start).Seconds(), s.CPU.Milliseconds(), s.RSS>>10,
			s.Received, s.Forwarded, s.NACKs, s.Resent, s.Heap>>10, s.Stack>>10)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write samples: %w", err)
	}
	return nil
}
