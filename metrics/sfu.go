package metrics

import (
	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/prometheus/client_golang/prometheus"
)

// counter is one sfu.Counters field exported as a Prometheus counter.
type counter struct {
	desc *prometheus.Desc
	read func(*sfu.Counters) uint64
}

// sfuCollector reads the SFU at scrape time: gauges walk the rooms (a few
// locks per room, no per-packet cost), counters load atomics the packet
// path already keeps.
type sfuCollector struct {
	sfu      *sfu.SFU
	sessions func() map[string]int

	rooms, participants, published, subscribed, doorSessions, relays *prometheus.Desc
	counters                                                         []counter
}

func newSFUCollector(s *sfu.SFU, sessions func() map[string]int) *sfuCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return &sfuCollector{
		sfu:          s,
		sessions:     sessions,
		rooms:        d("rooms", "Rooms open on this node."),
		participants: d("participants", "Participants in all rooms (WebSocket and WHIP clients)."),
		published:    d("published_tracks", "Tracks whose media is arriving, by kind.", "kind"),
		subscribed:   d("subscribed_tracks", "Track subscriptions being forwarded (participants and WHEP viewers)."),
		doorSessions: d("door_sessions", "Live WHIP and WHEP sessions.", "door"),
		relays:       d("relays", "Relays of tracks between the nodes of rooms that span nodes: out to other nodes, in from them.", "direction"),
		counters: []counter{
			{d("packets_received_total", "RTP packets received from publishers."), func(c *sfu.Counters) uint64 { return c.PacketsIn.Load() }},
			{d("bytes_received_total", "RTP bytes received from publishers."), func(c *sfu.Counters) uint64 { return c.BytesIn.Load() }},
			{d("packets_forwarded_total", "RTP packets forwarded to subscribers."), func(c *sfu.Counters) uint64 { return c.PacketsOut.Load() }},
			{d("bytes_forwarded_total", "RTP bytes (header and payload) forwarded to subscribers."), func(c *sfu.Counters) uint64 { return c.BytesOut.Load() }},
			{d("nacks_received_total", "NACK packets received from subscribers."), func(c *sfu.Counters) uint64 { return c.NACKsReceived.Load() }},
			{d("packets_resent_total", "RTP packets resent to subscribers from the layer caches, answering NACKs."), func(c *sfu.Counters) uint64 { return c.PacketsResent.Load() }},
			{d("plis_received_total", "PLI and FIR packets received from subscribers."), func(c *sfu.Counters) uint64 { return c.PLIsReceived.Load() }},
			{d("keyframe_requests_total", "Keyframe requests (PLI) sent to publishers after coalescing."), func(c *sfu.Counters) uint64 { return c.KeyframeReqs.Load() }},
			{d("layer_switches_total", "Simulcast layer switches made by forwarders."), func(c *sfu.Counters) uint64 { return c.LayerSwitches.Load() }},
			{d("relay_packets_sent_total", "RTP packets sent on relays to other nodes."), func(c *sfu.Counters) uint64 { return c.RelayPacketsOut.Load() }},
			{d("relay_bytes_sent_total", "RTP bytes (header and payload) sent on relays to other nodes."), func(c *sfu.Counters) uint64 { return c.RelayBytesOut.Load() }},
			{d("write_errors_total", "Packets a subscriber connection refused to send."), func(c *sfu.Counters) uint64 { return c.WriteErrors.Load() }},
		},
	}
}

// Describe implements prometheus.Collector.
func (c *sfuCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rooms, c.participants, c.published, c.subscribed, c.doorSessions, c.relays} {
		ch <- d
	}
	for _, k := range c.counters {
		ch <- k.desc
	}
}

// Collect implements prometheus.Collector.
func (c *sfuCollector) Collect(ch chan<- prometheus.Metric) {
	rooms := c.sfu.Rooms()
	var participants, subscribed int
	published := map[string]int{sfu.KindAudio.String(): 0, sfu.KindVideo.String(): 0}
	for _, r := range rooms {
		// Remote participants (served by another node) are counted
		// there; subscriptions to their relayed tracks are forwarded here.
		for _, p := range r.Participants() {
			if !p.Remote() {
				participants++
			}
			for _, t := range p.Tracks() {
				if !p.Remote() {
					published[t.Kind().String()]++
				}
				subscribed += t.Subscribers()
			}
		}
	}
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	gauge(c.rooms, len(rooms))
	gauge(c.participants, participants)
	for kind, n := range published {
		gauge(c.published, n, kind)
	}
	gauge(c.subscribed, subscribed)
	if c.sessions != nil {
		for door, n := range c.sessions() {
			gauge(c.doorSessions, n, door)
		}
	}
	counters := c.sfu.Counters()
	gauge(c.relays, int(counters.RelaysOut.Load()), "out")
	gauge(c.relays, int(counters.RelaysIn.Load()), "in")
	for _, k := range c.counters {
		ch <- prometheus.MustNewConstMetric(k.desc, prometheus.CounterValue, float64(k.read(counters)))
	}
}
