package main

import (
	"math"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
)

// point is one second of the run, summed over all bots.
type point struct {
	T               float64 `json:"t"` // seconds since the run started
	TracksReceiving int     `json:"tracks_receiving"`
	Kbps            float64 `json:"kbps"` // received, over the last interval
	Frames          uint64  `json:"frames"`
	Freezes         int     `json:"freezes"`
	PacketsReceived uint64  `json:"packets_received"`
	Joined          int     `json:"joined"`
}

// series collects the per-second points of the JSON report and notes when
// every expected track was first receiving (the end of the join phase).
type series struct {
	start     time.Time
	expected  int
	points    []point
	lastBytes uint64
	lastAt    time.Time
	allAt     float64 // seconds; -1 until every expected track receives
}

func newSeries(start time.Time, expected int) *series {
	return &series{start: start, expected: expected, lastAt: start, allAt: -1}
}

func (s *series) sample(now time.Time, ms []*member) {
	var tot bot.Totals
	joined := 0
	for _, m := range ms {
		st := m.bot.Stats()
		addTotals(&tot, st.Totals)
		if st.State == bot.StateJoined {
			joined++
		}
	}
	t := now.Sub(s.start).Seconds()
	var kbps float64
	if secs := now.Sub(s.lastAt).Seconds(); secs > 0 && tot.BytesReceived >= s.lastBytes {
		kbps = float64(tot.BytesReceived-s.lastBytes) * 8 / 1000 / secs
	}
	s.lastBytes, s.lastAt = tot.BytesReceived, now
	s.points = append(s.points, point{
		T: round1(t), TracksReceiving: tot.TracksReceiving, Kbps: round1(kbps), Frames: tot.Frames,
		Freezes: tot.Freezes, PacketsReceived: tot.PacketsReceived, Joined: joined,
	})
	if s.allAt < 0 && s.expected > 0 && tot.TracksReceiving >= s.expected {
		s.allAt = round1(t)
	}
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
