package main

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hibiki-sfu/hibiki/cmd/hibiki-bots/bot"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
		want func(options) bool
	}{
		{"defaults", nil, true, func(o options) bool {
			return o.publishers == 2 && o.subscribers == 3 && o.duration == 20*time.Second && o.url == "ws://127.0.0.1:7880/ws"
		}},
		{"all", []string{"--publishers", "4", "--subscribers", "0", "--simulcast", "--duration", "3s", "--allow-ips", "10.77.0.0/24, 127.0.0.0/8"}, true,
			func(o options) bool { return o.publishers == 4 && o.simulcast && len(o.allowIPs) == 2 }},
		{"fallback urls", []string{"--fallback-urls", "ws://b/ws, ws://c/ws"}, true,
			func(o options) bool { return len(o.fallbackURLs) == 2 && o.fallbackURLs[1] == "ws://c/ws" }},
		{"tile", []string{"--tile", "640x360"}, true, func(o options) bool { return o.tileW == 640 && o.tileH == 360 }},
		{"bad tile", []string{"--tile", "640"}, false, nil},
		{"no bots", []string{"--publishers", "0", "--subscribers", "0"}, false, nil},
		{"bad cidr", []string{"--allow-ips", "10.77.0.0"}, false, nil},
		{"zero duration", []string{"--duration", "0s"}, false, nil},
		{"bad level", []string{"--log-level", "loud"}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, io.Discard)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && !tc.want(o) {
				t.Errorf("options %+v", o)
			}
			if !tc.ok && !errors.Is(err, errUsage) {
				t.Errorf("error %v does not wrap errUsage", err)
			}
		})
	}
}

func TestTracksExpected(t *testing.T) {
	for _, tc := range []struct {
		pubs, subs int
		mutual     bool
		want       int
	}{{2, 3, false, 12}, {2, 3, true, 16}, {1, 0, true, 0}, {3, 0, true, 12}} {
		o := options{publishers: tc.pubs, subscribers: tc.subs, publishersSubscribe: tc.mutual}
		if got := tracksExpected(o); got != tc.want {
			t.Errorf("%+v: %d, want %d", tc, got, tc.want)
		}
		per := 0
		for _, n := range expectedPerBot(o) {
			per += n
		}
		if per != tc.want {
			t.Errorf("%+v: per-bot sum %d, want %d", tc, per, tc.want)
		}
	}
}

func TestPercentiles(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want percentiles
	}{
		{nil, percentiles{}},
		{[]float64{5}, percentiles{5, 5, 5}},
		{[]float64{10, 1, 2, 3, 4, 5, 6, 7, 8, 9}, percentiles{5, 10, 10}},
		{[]float64{40.04, 33.33}, percentiles{33.3, 40, 40}},
	} {
		if got := percentilesOf(tc.in); got != tc.want {
			t.Errorf("percentilesOf(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestReportTrack(t *testing.T) {
	r := &report{TracksExpected: 2, VideoSizesSeen: map[string]int{}}
	var delays []float64
	now := time.Unix(10, 0)
	r.addTrack(bot.TrackStats{Kind: "video", FirstFrameAt: now, FirstFrameKeyframe: true, FirstFrameDelay: 35 * time.Millisecond,
		Frames: 100, Decodable: 100, Packets: 300, Lost: 3, Width: 320, Height: 180, Freezes: 1, Frozen: true}, &delays)
	r.addTrack(bot.TrackStats{Kind: "audio", Ended: true, FirstFrameAt: now, FirstFrameKeyframe: true, Packets: 97}, &delays)
	if r.TracksReceived != 1 || r.Freezes != 2 || r.FrozenAtEnd != 1 || r.VideoSizesSeen["320x180"] != 1 || len(delays) != 1 || delays[0] != 35 {
		t.Errorf("report %+v delays %v", r, delays)
	}
	if got := lossPct(397, 3); got != 0.75 {
		t.Errorf("loss %.3f", got)
	}
	if r.healthy() {
		t.Error("report with freezes and a missing track is healthy")
	}
}
