package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
)

// maxRows keeps the live table readable with many bots; totals cover all.
const maxRows = 24

// liveTable prints one block per second: a row per bot with rates computed
// from the previous block.
type liveTable struct {
	w        io.Writer
	expected map[string]int
	total    int
	prev     map[string]bot.Stats
}

func newLiveTable(w io.Writer, o options) *liveTable {
	return &liveTable{w: w, prev: make(map[string]bot.Stats), expected: expectedPerBot(o), total: tracksExpected(o)}
}

// expectedPerBot is how many tracks each bot should receive.
func expectedPerBot(o options) map[string]int {
	out := make(map[string]int)
	k := o.kinds()
	for r := range max(1, o.rooms) {
		for i := range o.publishers {
			if o.publishersSubscribe {
				out[o.botName(r, "pub", i)] = k * (o.publishers - 1)
			}
		}
		for i := range o.subscribers {
			out[o.botName(r, "sub", i)] = k * o.publishers
		}
	}
	return out
}

func (t *liveTable) print(ms []*member, elapsed time.Duration) {
	tw := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	joined, failed := 0, 0
	for _, m := range ms {
		if m.done.Load() {
			if m.err() != nil {
				failed++
			} else {
				joined++
			}
		}
	}
	fmt.Fprintf(t.w, "--- %s  joined %d/%d bots (%d failed)\n", elapsed.Round(time.Second), joined, len(ms), failed)
	fmt.Fprintln(tw, "bot\tstate\ttracks\tkbps in\tkbps out\tlost\tframes\tfreezes\t")
	var tot bot.Totals
	var inK, outK float64
	for i, m := range ms {
		s := m.bot.Stats()
		p, hasPrev := t.prev[m.name]
		t.prev[m.name] = s
		var kin, kout float64
		if hasPrev {
			secs := s.At.Sub(p.At).Seconds()
			if secs > 0 {
				kin = float64(s.Totals.BytesReceived-p.Totals.BytesReceived) * 8 / 1000 / secs
				kout = float64(s.Totals.BytesSent-p.Totals.BytesSent) * 8 / 1000 / secs
			}
		}
		inK += kin
		outK += kout
		addTotals(&tot, s.Totals)
		if i < maxRows {
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.0f\t%.0f\t%d\t%d\t%d\t\n", m.name, s.State,
				s.Totals.TracksReceiving, t.expected[m.name], kin, kout, s.Totals.PacketsLost, s.Totals.Frames, s.Totals.Freezes)
		}
	}
	if len(ms) > maxRows {
		fmt.Fprintf(tw, "(%d more)\t\t\t\t\t\t\t\t\n", len(ms)-maxRows)
	}
	fmt.Fprintf(tw, "total\t\t%d/%d\t%.0f\t%.0f\t%d\t%d\t%d\t\n", tot.TracksReceiving, t.total, inK, outK, tot.PacketsLost, tot.Frames, tot.Freezes)
	_ = tw.Flush()
}

func addTotals(dst *bot.Totals, s bot.Totals) {
	dst.TracksReceiving += s.TracksReceiving
	dst.PacketsReceived += s.PacketsReceived
	dst.BytesReceived += s.BytesReceived
	dst.PacketsLost += s.PacketsLost
	dst.Frames += s.Frames
	dst.Incomplete += s.Incomplete
	dst.Decodable += s.Decodable
	dst.FirstFrameNotKeyframe += s.FirstFrameNotKeyframe
	dst.Freezes += s.Freezes
	dst.PacketsSent += s.PacketsSent
	dst.BytesSent += s.BytesSent
	dst.FramesSent += s.FramesSent
}
