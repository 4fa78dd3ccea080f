package main

import (
	"fmt"
	"strconv"
	"strings"
)

// Scenarios name the load shapes hibiki is measured with. Each sets the
// defaults below for every room; --publishers, --subscribers and
// --simulcast given on the command line still win.
//
//   - meeting: every participant publishes simulcast audio+video and
//     receives everyone else (publishers, 4 by default, no subscribers).
//   - webinar: 1 to 3 presenters (audio+video) and many viewers (50).
//   - audio: a large audio-only room: 3 speakers, 100 listeners.
const (
	scenarioMeeting = "meeting"
	scenarioWebinar = "webinar"
	scenarioAudio   = "audio"
	scenarioSoak    = "soak"
)

// applyScenario fills o for o.scenario; set holds the flags given.
func applyScenario(o *options, set map[string]bool) error {
	def := func(name string, dst *int, v int) {
		if !set[name] {
			*dst = v
		}
	}
	switch o.scenario {
	case "":
	case scenarioMeeting:
		def("publishers", &o.publishers, 4)
		def("subscribers", &o.subscribers, 0)
		o.publishersSubscribe = true
		if !set["simulcast"] {
			o.simulcast = true
		}
	case scenarioWebinar:
		def("publishers", &o.publishers, 1)
		def("subscribers", &o.subscribers, 50)
		if o.publishers < 1 || o.publishers > 3 {
			return fmt.Errorf("%w: a webinar has 1 to 3 publishers, not %d", errUsage, o.publishers)
		}
	case scenarioAudio:
		def("publishers", &o.publishers, 3)
		def("subscribers", &o.subscribers, 100)
		o.audioOnly = true
	case scenarioSoak:
		return fmt.Errorf("%w: scenario soak is not implemented yet", errUsage)
	default:
		return fmt.Errorf("%w: unknown scenario %q (meeting, webinar, audio)", errUsage, o.scenario)
	}
	return nil
}

// parseRate reads a ramp rate such as "10/s", "10" or "0.5/s" (bots per
// second); "" and "0" mean all at once.
func parseRate(s string) (float64, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/s")
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%w: --ramp %q is not a rate like 10/s", errUsage, s)
	}
	return v, nil
}

// kinds is how many tracks each publisher publishes.
func (o options) kinds() int {
	if o.audioOnly {
		return 1
	}
	return 2
}

// roomName is the name of room i (0-based) of the run.
func (o options) roomName(i int) string {
	if o.rooms <= 1 {
		return o.room
	}
	return fmt.Sprintf("%s-%d", o.room, i+1)
}

// botName names a bot uniquely across rooms; with one room the names are
// the plain pub-N / sub-N.
func (o options) botName(room int, role string, i int) string {
	if o.rooms <= 1 {
		return fmt.Sprintf("%s-%d", role, i+1)
	}
	return fmt.Sprintf("r%d-%s-%d", room+1, role, i+1)
}
