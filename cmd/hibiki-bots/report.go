package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
)

// report is the run summary; its JSON form is what CI and the e2e tests
// read.
type report struct {
	Scenario            string      `json:"scenario,omitempty"`
	Rooms               int         `json:"rooms"`
	Publishers          int         `json:"publishers"`
	Subscribers         int         `json:"subscribers"`
	Simulcast           bool        `json:"simulcast"`
	PublishersSubscribe bool        `json:"publishers_subscribe"`
	TracksExpected      int         `json:"tracks_expected"`
	TracksReceived      int         `json:"tracks_received"`
	VideoTracksReceived int         `json:"video_tracks_received"`
	JoinToFirstFrameMs  percentiles `json:"join_to_first_frame_ms"`
	// JoinToFirstVideoMs covers the video tracks only: a keyframe, where
	// audio needs one packet.
	JoinToFirstVideoMs percentiles `json:"join_to_first_video_frame_ms"`
	FramesReceived     uint64      `json:"frames_received"`
	FramesDecodable    uint64      `json:"frames_decodable"`
	IncompleteFrames   uint64      `json:"incomplete_frames"`
	// SwitchCuts are frames of the old layer cut short by a layer switch.
	SwitchCuts       uint64  `json:"switch_cut_frames"`
	FirstFrameNotKey int     `json:"first_frame_not_keyframe"`
	PacketsReceived  uint64  `json:"packets_received"`
	PacketsLost      int64   `json:"packets_lost"`
	PacketLossPct    float64 `json:"packet_loss_pct"`
	// Freezes counts gaps over 500 ms between decodable frames, plus video
	// tracks frozen when the run ended.
	Freezes        int            `json:"freezes"`
	FrozenAtEnd    int            `json:"frozen_at_end"`
	JitterMsMax    float64        `json:"jitter_ms_max"`
	PacketsSent    uint64         `json:"packets_sent"`
	BytesSent      uint64         `json:"bytes_sent"`
	BytesReceived  uint64         `json:"bytes_received"`
	KbpsIn         float64        `json:"kbps_in"`
	KbpsOut        float64        `json:"kbps_out"`
	PLIsSent       uint64         `json:"plis_sent"`
	PLIsReceived   uint64         `json:"plis_received"`
	ConnectErrors  int            `json:"connect_errors"`
	DurationS      float64        `json:"duration_s"`
	VideoSizesSeen map[string]int `json:"video_sizes_seen"`
	// StartedAt is when the run began (RFC 3339, UTC); Series times and
	// AllReceivingS count from it. AllReceivingS is when every expected
	// track was first receiving, -1 if never: the end of the join phase.
	StartedAt     string  `json:"started_at"`
	AllReceivingS float64 `json:"all_receiving_s"`
	Series        []point `json:"series"`
	// ServerEstimateKbps summarizes the latest server stats event of each
	// subscribing bot: the bandwidth estimate the server's allocator spends
	// on it (docs/bwe.md), and how many of its tracks were paused.
	ServerEstimateKbps percentiles `json:"server_estimate_kbps"`
	TracksPaused       int         `json:"tracks_paused"`
}

type percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

func (r *report) healthy() bool {
	return r.TracksReceived >= r.TracksExpected && r.Freezes == 0 && r.ConnectErrors == 0
}

// tracksExpected is the number of received tracks of a healthy run, over
// all rooms.
func tracksExpected(o options) int {
	k := o.kinds()
	n := o.publishers * k * o.subscribers
	if o.publishersSubscribe {
		n += o.publishers * (o.publishers - 1) * k
	}
	return n * max(1, o.rooms)
}

func buildReport(o options, ms []*member, elapsed time.Duration) *report {
	r := &report{
		Scenario: o.scenario, Rooms: max(1, o.rooms), AllReceivingS: -1,
		Publishers: o.publishers, Subscribers: o.subscribers, Simulcast: o.simulcast,
		PublishersSubscribe: o.publishersSubscribe, TracksExpected: tracksExpected(o),
		DurationS: math.Round(elapsed.Seconds()*10) / 10, VideoSizesSeen: map[string]int{},
	}
	var delays, video, estimates []float64
	for _, m := range ms {
		if m.err() != nil {
			r.ConnectErrors++
		}
		s := m.bot.Stats()
		r.PacketsSent += s.Totals.PacketsSent
		r.BytesSent += s.Totals.BytesSent
		for _, p := range s.Published {
			r.PLIsReceived += p.PLIs + p.FIRs
		}
		for _, t := range s.Tracks {
			r.addTrack(t, &delays)
			if t.Kind == "video" && t.Receiving() {
				video = append(video, float64(t.FirstFrameDelay.Microseconds())/1000)
			}
		}
		if s.Server != nil {
			estimates = append(estimates, float64(s.Server.Estimate)/1000)
			for _, t := range s.Server.Tracks {
				if t.Paused {
					r.TracksPaused++
				}
			}
		}
	}
	r.ServerEstimateKbps = percentilesOf(estimates)
	r.PacketLossPct = lossPct(r.PacketsReceived, r.PacketsLost)
	r.JoinToFirstFrameMs = percentilesOf(delays)
	r.JoinToFirstVideoMs = percentilesOf(video)
	if secs := elapsed.Seconds(); secs > 0 {
		r.KbpsIn = math.Round(float64(r.BytesReceived)*8/1000/secs*10) / 10
		r.KbpsOut = math.Round(float64(r.BytesSent)*8/1000/secs*10) / 10
	}
	return r
}

func (r *report) addTrack(t bot.TrackStats, delays *[]float64) {
	if t.Receiving() {
		r.TracksReceived++
		if t.Kind == "video" {
			r.VideoTracksReceived++
		}
		*delays = append(*delays, float64(t.FirstFrameDelay.Microseconds())/1000)
	}
	r.FramesReceived += t.Frames
	r.FramesDecodable += t.Decodable
	r.IncompleteFrames += t.Incomplete
	r.SwitchCuts += t.SwitchCuts
	if !t.FirstFrameAt.IsZero() && !t.FirstFrameKeyframe {
		r.FirstFrameNotKey++
	}
	r.PacketsReceived += t.Packets
	r.PacketsLost += t.Lost
	r.BytesReceived += t.Bytes
	r.Freezes += t.Freezes
	if t.Frozen {
		r.FrozenAtEnd++
		r.Freezes++
	}
	r.PLIsSent += t.PLIsSent
	r.JitterMsMax = math.Max(r.JitterMsMax, float64(t.Jitter.Microseconds())/1000)
	if t.Width > 0 {
		r.VideoSizesSeen[fmt.Sprintf("%dx%d", t.Width, t.Height)]++
	}
}

func lossPct(received uint64, lost int64) float64 {
	exp := float64(received) + float64(lost)
	if exp == 0 {
		return 0
	}
	return math.Round(100*float64(lost)/exp*1000) / 1000
}

// percentilesOf uses the nearest-rank method; empty input gives zeros.
func percentilesOf(v []float64) percentiles {
	if len(v) == 0 {
		return percentiles{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return math.Round(s[max(0, i)]*10) / 10
	}
	return percentiles{P50: rank(50), P95: rank(95), Max: math.Round(s[len(s)-1]*10) / 10}
}

func writeJSON(path string, r *report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func writeSummary(w io.Writer, r *report) {
	verdict := "HEALTHY"
	if !r.healthy() {
		verdict = "UNHEALTHY"
	}
	fmt.Fprintf(w, "%s: %s%d room(s) of %d publishers, %d subscribers, %.1fs\n", verdict, scenarioLabel(r.Scenario),
		r.Rooms, r.Publishers, r.Subscribers, r.DurationS)
	fmt.Fprintf(w, "  tracks received %d / expected %d\n", r.TracksReceived, r.TracksExpected)
	fmt.Fprintf(w, "  join->first frame ms: p50 %.1f  p95 %.1f  max %.1f\n",
		r.JoinToFirstFrameMs.P50, r.JoinToFirstFrameMs.P95, r.JoinToFirstFrameMs.Max)
	fmt.Fprintf(w, "  join->first video frame ms: p50 %.1f  p95 %.1f  max %.1f\n",
		r.JoinToFirstVideoMs.P50, r.JoinToFirstVideoMs.P95, r.JoinToFirstVideoMs.Max)
	fmt.Fprintf(w, "  frames %d (decodable %d, incomplete %d, cut by switches %d, first not key %d), freezes %d (frozen at end %d)\n",
		r.FramesReceived, r.FramesDecodable, r.IncompleteFrames, r.SwitchCuts, r.FirstFrameNotKey, r.Freezes, r.FrozenAtEnd)
	fmt.Fprintf(w, "  packets received %d, lost %d (%.3f%%), max jitter %.1f ms, PLIs sent %d / received %d\n",
		r.PacketsReceived, r.PacketsLost, r.PacketLossPct, r.JitterMsMax, r.PLIsSent, r.PLIsReceived)
	fmt.Fprintf(w, "  kbps in %.0f, out %.0f; video sizes %v\n", r.KbpsIn, r.KbpsOut, r.VideoSizesSeen)
	fmt.Fprintf(w, "  server estimate kbps: p50 %.0f  p95 %.0f  max %.0f; tracks paused %d\n",
		r.ServerEstimateKbps.P50, r.ServerEstimateKbps.P95, r.ServerEstimateKbps.Max, r.TracksPaused)
}

func scenarioLabel(s string) string {
	if s == "" {
		return ""
	}
	return s + ", "
}
