package cluster

import (
	"syscall"
	"time"
)

// cpuMeter turns the process's cumulative CPU time into busy cores over the
// interval between two reads.
type cpuMeter struct {
	lastCPU  time.Duration
	lastWall time.Time
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// read returns the cores busy since the previous read (0 on the first).
func (m *cpuMeter) read(now time.Time) float64 {
	cpu := processCPU()
	var cores float64
	if !m.lastWall.IsZero() {
		if wall := now.Sub(m.lastWall); wall > 0 {
			cores = float64(cpu-m.lastCPU) / float64(wall)
		}
	}
	m.lastCPU, m.lastWall = cpu, now
	return cores
}

// rateMeter turns a cumulative byte counter into bits per second.
type rateMeter struct {
	last     uint64
	lastWall time.Time
}

func (m *rateMeter) read(bytes uint64, now time.Time) uint64 {
	var bps uint64
	if !m.lastWall.IsZero() && bytes >= m.last {
		if wall := now.Sub(m.lastWall); wall > 0 {
			bps = uint64(float64(bytes-m.last) * 8 / wall.Seconds())
		}
	}
	m.last, m.lastWall = bytes, now
	return bps
}
