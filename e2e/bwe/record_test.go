package bwe

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/sfu"
)

// samplePeriod is the resolution of the recorded time series.
const samplePeriod = 100 * time.Millisecond

// sample is one row of a scenario's time series.
type sample struct {
	t                      time.Duration
	link                   int // downlink cap, bit/s (0: none)
	est, gcc, acked, alloc int
	sent                   int
	mediaOut, nacks        uint64 // server counters, cumulative
	probing                bool
	target, recv           map[string]int // video track SID -> layer (server target, received)
	paused                 map[string]bool
	lossPct                float64 // over the sample period, all tracks
	packets, lost          int64   // cumulative, all tracks
	freezes                int     // cumulative, video
	audioPackets           map[string]uint64
	audioLost              int64 // cumulative, all audio tracks
}

// recorder samples a subscriber bot (its measurements and the server's
// stats events) and the link.
type recorder struct {
	name  string
	start time.Time
	sub   *bot.Bot
	srv   *sfu.Counters
	link  *link
	rows  []sample
}

func newRecorder(name string, sub *bot.Bot, l *link) *recorder {
	return &recorder{name: name, start: time.Now(), sub: sub, link: l}
}

// layerOf maps a received keyframe height to the simulcast layer of the
// bots' clips (180, 360, 720).
func layerOf(h int) int {
	switch {
	case h >= 720:
		return 2
	case h >= 360:
		return 1
	case h > 0:
		return 0
	default:
		return -1
	}
}

// take records one sample now.
func (r *recorder) take() sample {
	st := r.sub.Stats()
	s := sample{
		t: time.Since(r.start), link: r.link.Rate(),
		target: map[string]int{}, recv: map[string]int{}, paused: map[string]bool{},
		audioPackets: map[string]uint64{},
	}
	if r.srv != nil {
		s.mediaOut, s.nacks = r.srv.BytesOut.Load(), r.srv.NACKsReceived.Load()
	}
	if sv := st.Server; sv != nil {
		s.est, s.gcc, s.acked, s.alloc, s.probing = sv.Estimate, sv.GCC, sv.Acked, sv.Allocated, sv.Probing
		s.sent = sv.Sent
		for _, tr := range sv.Tracks {
			if tr.Kind == "video" {
				s.target[tr.TrackSID] = tr.Layer
				s.paused[tr.TrackSID] = tr.Paused
			}
		}
	}
	for _, tr := range st.Tracks {
		s.packets += int64(tr.Packets)
		s.lost += tr.Lost
		if tr.Kind == "video" {
			s.recv[tr.TrackSID] = layerOf(tr.Height)
			if tr.Paused {
				s.recv[tr.TrackSID] = -1 // told subscriptionPaused
			}
			s.freezes += tr.Freezes
		} else {
			s.audioPackets[tr.TrackSID] = tr.Packets
			s.audioLost += tr.Lost
		}
	}
	if n := len(r.rows); n > 0 {
		p := r.rows[n-1]
		dp, dl := s.packets-p.packets, s.lost-p.lost
		if dp+dl > 0 && dl > 0 {
			s.lossPct = 100 * float64(dl) / float64(dp+dl)
		}
	}
	r.rows = append(r.rows, s)
	return s
}

// run samples for d (or until ctx ends).
func (r *recorder) run(ctx context.Context, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	r.until(ctx, nil)
}

// until samples until done is closed or ctx ends.
func (r *recorder) until(ctx context.Context, done <-chan struct{}) {
	tick := time.NewTicker(samplePeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-tick.C:
			r.take()
		}
	}
}

// videoTracks lists the video track SIDs seen, sorted.
func (r *recorder) videoTracks() []string {
	seen := map[string]bool{}
	for _, s := range r.rows {
		for id := range s.recv {
			seen[id] = true
		}
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// since returns the rows from time t on.
func (r *recorder) since(t time.Duration) []sample {
	for i, s := range r.rows {
		if s.t >= t {
			return r.rows[i:]
		}
	}
	return nil
}

// settledAt is the time from which every later sample satisfies ok (from
// start on); -1 when the last sample does not.
func (r *recorder) settledAt(from time.Duration, ok func(sample) bool) time.Duration {
	at := time.Duration(-1)
	for _, s := range r.since(from) {
		if ok(s) {
			if at < 0 {
				at = s.t
			}
		} else {
			at = -1
		}
	}
	return at
}

// lossBetween is the packet loss in percent between two samples.
func lossBetween(a, b sample) float64 {
	dp, dl := b.packets-a.packets, b.lost-a.lost
	if dp+dl <= 0 {
		return 0
	}
	return 100 * float64(max(dl, 0)) / float64(dp+dl)
}

// writeCSV stores the series under e2e/out/<name>.csv.
func (r *recorder) writeCSV() (string, error) {
	dir := filepath.Join("..", "out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("out dir: %w", err)
	}
	path := filepath.Join(dir, r.name+".csv")
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("create csv: %w", err)
	}
	defer f.Close()
	w := csv.NewWriter(f)
	tracks := r.videoTracks()
	head := []string{"t_s", "link_kbps", "estimate_kbps", "gcc_kbps", "acked_kbps", "sent_kbps", "allocated_kbps", "probing", "loss_pct", "freezes", "media_kbps", "nacks"}
	for i := range tracks {
		head = append(head, fmt.Sprintf("target_layer_%d", i), fmt.Sprintf("recv_layer_%d", i))
	}
	if err := w.Write(head); err != nil {
		return "", fmt.Errorf("write csv: %w", err)
	}
	kb := func(v int) string { return strconv.Itoa(v / 1000) }
	for i, s := range r.rows {
		media, nacks := 0, uint64(0)
		if i > 0 {
			p := r.rows[i-1]
			if dt := (s.t - p.t).Seconds(); dt > 0 {
				media = int(float64(s.mediaOut-p.mediaOut) * 8 / dt)
			}
			nacks = s.nacks - p.nacks
		}
		row := []string{
			strconv.FormatFloat(s.t.Seconds(), 'f', 2, 64), kb(s.link), kb(s.est), kb(s.gcc), kb(s.acked), kb(s.sent), kb(s.alloc),
			strconv.FormatBool(s.probing), strconv.FormatFloat(s.lossPct, 'f', 2, 64), strconv.Itoa(s.freezes),
			kb(media), strconv.FormatUint(nacks, 10),
		}
		for _, id := range tracks {
			tgt, ok := s.target[id]
			if !ok {
				tgt = -1
			}
			recv, ok := s.recv[id]
			if !ok {
				recv = -1
			}
			row = append(row, strconv.Itoa(tgt), strconv.Itoa(recv))
		}
		if err := w.Write(row); err != nil {
			return "", fmt.Errorf("write csv: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return "", fmt.Errorf("flush csv: %w", err)
	}
	return path, nil
}
