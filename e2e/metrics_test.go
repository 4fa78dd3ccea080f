package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"
)

// scrape fetches /metrics and parses the text format.
func scrape(ctx context.Context, t *testing.T, srv *server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := doHTTP(ctx, t, http.MethodGet, srv.httpBase()+"/metrics", "", "", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value returns the value of the sample of family name whose labels
// include want (name=value pairs), or -1.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// /metrics shows the room's state, and its counters move as media flows,
// keyframes are requested, layers switch and requests are refused.
func TestMetricsFollowTheRoom(t *testing.T) {
	srv := startServer(t, nil)
	ctx := deadline(t, 30*time.Second)
	pub, err := bot.New(bot.Config{URL: srv.url, Room: "metrics", Identity: "pub", Publish: true, Simulcast: true, Media: clips(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	if err := pub.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	sub := newBot(ctx, t, srv, "metrics", "sub", false, true)
	if err := sub.WaitTracks(ctx, 2); err != nil {
		t.Fatalf("tracks: %v", err)
	}
	before := scrape(ctx, t, srv)
	gauges := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"hibiki_rooms", nil, 1},
		{"hibiki_participants", nil, 2},
		{"hibiki_published_tracks", []string{"kind", "video"}, 1},
		{"hibiki_published_tracks", []string{"kind", "audio"}, 1},
		{"hibiki_subscribed_tracks", nil, 2},
		{"hibiki_door_sessions", []string{"door", "whip"}, 0},
		{"hibiki_join_duration_seconds", []string{"door", "ws"}, 2},
	}
	for _, g := range gauges {
		if got := value(before, g.name, g.labels...); got != g.want {
			t.Errorf("%s%v = %v, want %v", g.name, g.labels, got, g.want)
		}
	}
	if value(before, "go_goroutines") <= 0 {
		t.Error("go_goroutines missing")
	}
	vsid := pub.TrackSID("video")
	if err := sub.SetVideoSize(ctx, vsid, 1280, 720, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.WaitStats(ctx, func(bot.Stats) bool { s, _ := trackStats(sub, vsid); return s.Width == 1280 }); err != nil {
		t.Fatalf("no switch to 1280x720: %v", err)
	}
	if err := sub.Signal().SendRaw([]byte(`{"type":"teleport","id":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.WaitMessage(ctx, func(*signaling.Message) bool { return len(sub.LastErrors()) > 0 }); err != nil {
		t.Fatal(err)
	}
	if resp, _ := doHTTP(ctx, t, http.MethodPost, srv.httpBase()+"/whip/metrics", "", "application/sdp", "v=0", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthorized POST = %d", resp.StatusCode)
	}
	after := scrape(ctx, t, srv)
	for _, name := range []string{
		"hibiki_packets_received_total", "hibiki_bytes_received_total",
		"hibiki_packets_forwarded_total", "hibiki_bytes_forwarded_total",
		"hibiki_keyframe_requests_total", "hibiki_layer_switches_total",
	} {
		if b, a := value(before, name), value(after, name); a <= b || b < 0 {
			t.Errorf("%s did not grow: %v -> %v", name, b, a)
		}
	}
	if got := value(after, "hibiki_signaling_errors_total", "code", "unknown_type"); got != 1 {
		t.Errorf("signaling_errors_total{code=unknown_type} = %v, want 1", got)
	}
	if got := value(after, "hibiki_door_errors_total", "door", "whip", "status", "401"); got != 1 {
		t.Errorf("door_errors_total{door=whip,status=401} = %v, want 1", got)
	}
	for _, name := range []string{"hibiki_nacks_received_total", "hibiki_plis_received_total", "hibiki_write_errors_total"} {
		if value(after, name) < 0 {
			t.Errorf("%s missing", name)
		}
	}
}
