// Package metrics exposes hibiki to Prometheus: gauges read from the SFU's
// state at scrape time, counters read from sfu.Counters, and the few
// events only the doors see (join latency, refused requests). Everything
// registers on a registry the application owns; there is no global one,
// so two servers in one process (tests) never share numbers.
package metrics

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every hibiki metric.
const namespace = "hibiki"

// Options adds sources the SFU does not know about.
type Options struct {
	// Sessions, when set, returns the live sessions of each HTTP door
	// (whip, whep) at scrape time.
	Sessions func() map[string]int
}

// Metrics owns the registry and the event metrics the doors feed.
type Metrics struct {
	reg        *prometheus.Registry
	joins      *prometheus.HistogramVec
	sigErrors  *prometheus.CounterVec
	doorErrors *prometheus.CounterVec
}

// New builds a registry with the Go runtime and process collectors, the
// SFU collector and the event metrics.
func New(s *sfu.SFU, opts Options) (*Metrics, error) {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		joins: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "join_duration_seconds",
			Help:      "Time from a join request to the participant being in the room (ws: join message to joined; whip/whep: POST to answer, including ICE gathering).",
			// Joins take milliseconds on loopback and up to the gather
			// timeout (2 s) when STUN/TURN servers are slow.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"door"}),
		sigErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "signaling_errors_total",
			Help:      "Error messages sent to WebSocket clients, by protocol error code.",
		}, []string{"code"}),
		doorErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "door_errors_total",
			Help:      "Refused WHIP/WHEP requests, by door and HTTP status.",
		}, []string{"door", "status"}),
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newSFUCollector(s, opts.Sessions),
		m.joins, m.sigErrors, m.doorErrors,
	} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// Registry returns the registry, for embedding applications that add their
// own metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the text exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveJoin records how long a successful join through door took.
func (m *Metrics) ObserveJoin(door string, d time.Duration) {
	m.joins.WithLabelValues(door).Observe(d.Seconds())
}

// SignalingError counts one error message sent to a WebSocket client.
func (m *Metrics) SignalingError(code string) { m.sigErrors.WithLabelValues(code).Inc() }

// DoorError counts one refused WHIP/WHEP request.
func (m *Metrics) DoorError(door string, status int) {
	m.doorErrors.WithLabelValues(door, strconv.Itoa(status)).Inc()
}
