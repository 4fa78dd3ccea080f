package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat; it
// is 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// sample is one reading of a process's CPU time and resident memory.
type sample struct {
	At  time.Time
	CPU time.Duration // utime + stime
	RSS int64         // bytes
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

// sampler reads a process every interval until stopped.
type sampler struct {
	pid  int
	mu   sync.Mutex
	all  []sample
	stop chan struct{}
	done chan struct{}
}

func startSampler(pid int, every time.Duration) *sampler {
	s := &sampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if x, err := readProc(pid); err == nil {
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
