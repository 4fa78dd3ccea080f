package main

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestScenarios(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want func(options) bool
		err  bool
	}{
		{"meeting", []string{"--scenario", "meeting"}, func(o options) bool {
			return o.publishers == 4 && o.subscribers == 0 && o.publishersSubscribe && o.simulcast && tracksExpected(o) == 24
		}, false},
		{"meeting of 6 in 3 rooms", []string{"--scenario", "meeting", "--publishers", "6", "--rooms", "3"}, func(o options) bool {
			return o.publishers == 6 && o.rooms == 3 && tracksExpected(o) == 3*6*5*2
		}, false},
		{"webinar", []string{"--scenario", "webinar", "--subscribers", "200", "--ramp", "10/s"}, func(o options) bool {
			return o.publishers == 1 && o.subscribers == 200 && o.ramp == 10 && !o.simulcast && tracksExpected(o) == 400
		}, false},
		{"webinar with 4 presenters", []string{"--scenario", "webinar", "--publishers", "4"}, nil, true},
		{"audio", []string{"--scenario", "audio"}, func(o options) bool {
			return o.audioOnly && o.publishers == 3 && o.subscribers == 100 && tracksExpected(o) == 300
		}, false},
		{"soak not yet", []string{"--scenario", "soak"}, nil, true},
		{"unknown", []string{"--scenario", "party"}, nil, true},
		{"no rooms", []string{"--rooms", "0"}, nil, true},
		{"bad ramp", []string{"--ramp", "fast"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, io.Discard)
			if tc.err {
				if !errors.Is(err, errUsage) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil || !tc.want(o) {
				t.Fatalf("options %+v, err %v", o, err)
			}
			per := 0
			for _, n := range expectedPerBot(o) {
				per += n
			}
			if per != tracksExpected(o) {
				t.Errorf("per-bot sum %d, total %d", per, tracksExpected(o))
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"": 0, "0": 0, "10/s": 10, "2.5": 2.5, " 0.5/s ": 0.5} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseRate("-1/s"); err == nil {
		t.Error("negative rate accepted")
	}
}

func TestRoomAndBotNames(t *testing.T) {
	one := options{room: "demo", rooms: 1}
	if one.roomName(0) != "demo" || one.botName(0, "sub", 2) != "sub-3" {
		t.Errorf("one room: %s %s", one.roomName(0), one.botName(0, "sub", 2))
	}
	many := options{room: "demo", rooms: 3}
	if many.roomName(1) != "demo-2" || many.botName(2, "pub", 0) != "r3-pub-1" {
		t.Errorf("rooms: %s %s", many.roomName(1), many.botName(2, "pub", 0))
	}
}

func TestSeriesMarksTheEndOfTheJoinPhase(t *testing.T) {
	start := time.Unix(100, 0)
	s := newSeries(start, 4)
	s.sample(start.Add(time.Second), nil)
	if len(s.points) != 1 || s.points[0].T != 1 || s.allAt != -1 {
		t.Fatalf("points %+v allAt %v", s.points, s.allAt)
	}
	s0 := newSeries(start, 0)
	s0.sample(start.Add(time.Second), nil)
	if s0.allAt != -1 {
		t.Error("a run expecting nothing has an end of join phase")
	}
}
