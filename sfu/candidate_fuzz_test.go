package sfu

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// FuzzCandidate sends a trickled candidate, a string the client fully
// controls, to a participant's AddCandidate (before the publish connection
// exists, so it is queued) in normal and relay-only mode. A candidate is
// refused with ErrBadCandidate or accepted; relay-only queues relay
// candidates only; the queue stays bounded; and what pion parsed marshals
// to a candidate that parses and marshals the same again.
func FuzzCandidate(f *testing.F) {
	for _, c := range []string{
		"candidate:1840965416 1 udp 2122260223 192.0.2.10 54321 typ host generation 0 network-id 1",
		"candidate:3484954292 1 udp 1686052607 198.51.100.7 54321 typ srflx raddr 192.0.2.10 rport 54321 generation 0",
		"candidate:2999745851 1 udp 41885439 203.0.113.5 60012 typ relay raddr 198.51.100.7 rport 54321",
		"candidate:1606960196 1 tcp 1518280447 192.0.2.10 9 typ host tcptype active",
		"candidate:842163049 1 udp 1677729535 2001:db8::1 3478 typ prflx raddr :: rport 0",
	} {
		f.Add(c, "Wk8T", false)
		f.Add(c, "", true)
	}
	f.Fuzz(func(t *testing.T, cand, ufrag string, relayOnly bool) {
		p := &Participant{logger: slog.New(slog.DiscardHandler)}
		p.relayOnly.Store(relayOnly)
		p.pubCands = make([]webrtc.ICECandidateInit, maxQueuedCandidates-1)
		init := webrtc.ICECandidateInit{Candidate: cand, UsernameFragment: &ufrag}
		for range 2 {
			err := p.AddCandidate(TargetPublish, init)
			if err != nil && !errors.Is(err, ErrBadCandidate) {
				t.Fatalf("untyped error %v", err)
			}
		}
		if len(p.pubCands) > maxQueuedCandidates {
			t.Fatalf("queue grew to %d", len(p.pubCands))
		}
		parsed, err := ice.UnmarshalCandidate(cand)
		if err != nil {
			if len(p.pubCands) != maxQueuedCandidates-1 {
				t.Fatal("an unparsable candidate was queued")
			}
			return
		}
		if relayOnly && parsed.Type() != ice.CandidateTypeRelay && len(p.pubCands) != maxQueuedCandidates-1 {
			t.Fatalf("relay-only queued a %s candidate", parsed.Type())
		}
		again, err := ice.UnmarshalCandidate(parsed.Marshal())
		if err != nil {
			t.Fatalf("marshalled candidate %q does not parse: %v", parsed.Marshal(), err)
		}
		// pion drops an unspecified related address (raddr :: rport 0) when
		// it writes, so one write normalizes; the second must change nothing.
		if again.Marshal() != parsed.Marshal() || again.Type() != parsed.Type() {
			t.Fatalf("round trip changed the candidate: %q -> %q", parsed.Marshal(), again.Marshal())
		}
	})
}
