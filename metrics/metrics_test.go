package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTestMetrics(t *testing.T, sessions func() map[string]int) (*Metrics, *sfu.SFU) {
	t.Helper()
	s, err := sfu.New(sfu.DefaultRTCConfig(), sfu.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	m, err := New(s, Options{Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// The collector reads counters and state at scrape time; the event
// metrics count what the doors report.
func TestCollect(t *testing.T) {
	m, s := newTestMetrics(t, func() map[string]int { return map[string]int{"whip": 2, "whep": 5} })
	s.Counters().PacketsOut.Add(7)
	s.Counters().LayerSwitches.Add(3)
	m.ObserveJoin("ws", 3*time.Millisecond)
	m.ObserveJoin("whip", 40*time.Millisecond)
	m.SignalingError("bad_token")
	m.SignalingError("bad_token")
	m.DoorError("whip", 401)
	want := `
# HELP hibiki_door_errors_total Refused WHIP/WHEP requests, by door and HTTP status.
# TYPE hibiki_door_errors_total counter
hibiki_door_errors_total{door="whip",status="401"} 1
# HELP hibiki_door_sessions Live WHIP and WHEP sessions.
# TYPE hibiki_door_sessions gauge
hibiki_door_sessions{door="whep"} 5
hibiki_door_sessions{door="whip"} 2
# HELP hibiki_layer_switches_total Simulcast layer switches made by forwarders.
# TYPE hibiki_layer_switches_total counter
hibiki_layer_switches_total 3
# HELP hibiki_packets_forwarded_total RTP packets forwarded to subscribers.
# TYPE hibiki_packets_forwarded_total counter
hibiki_packets_forwarded_total 7
# HELP hibiki_participants Participants in all rooms (WebSocket and WHIP clients).
# TYPE hibiki_participants gauge
hibiki_participants 0
# HELP hibiki_rooms Rooms open on this node.
# TYPE hibiki_rooms gauge
hibiki_rooms 0
# HELP hibiki_signaling_errors_total Error messages sent to WebSocket clients, by protocol error code.
# TYPE hibiki_signaling_errors_total counter
hibiki_signaling_errors_total{code="bad_token"} 2
`
	names := []string{"hibiki_door_errors_total", "hibiki_door_sessions", "hibiki_layer_switches_total",
		"hibiki_packets_forwarded_total", "hibiki_participants", "hibiki_rooms", "hibiki_signaling_errors_total"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "hibiki_join_duration_seconds"); err != nil || n != 2 {
		t.Fatalf("join histogram series = %d, %v", n, err)
	}
	problems, err := testutil.CollectAndLint(newSFUCollector(s, nil))
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
}

// The handler serves the text format, with the Go runtime's metrics.
func TestHandler(t *testing.T) {
	m, _ := newTestMetrics(t, nil)
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "go_goroutines") ||
		!strings.Contains(w.Body.String(), "hibiki_published_tracks{kind=\"video\"} 0") {
		t.Fatalf("GET /metrics = %d\n%s", w.Code, w.Body.String())
	}
}
