package sfu

import (
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// sdpSeeds are real offers: a browser's (simulcast, host, srflx, relay and
// TCP candidates) and the ones captured from the bots (testdata/sdp).
func sdpSeeds(tb testing.TB) []string {
	tb.Helper()
	entries, err := os.ReadDir("testdata/sdp")
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile("testdata/sdp/" + e.Name())
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// FuzzSDPInspection runs hibiki's own reading of a client's SDP: the
// relay-only candidate filter and the ICE generation (ufrag) lookup. The
// filter must leave no candidate that pion would use unless it is a relay
// candidate, must be idempotent, and an SDP that pion parses must still
// parse after it; the ufrag must be the one pion reads.
func FuzzSDPInspection(f *testing.F) {
	for _, s := range sdpSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var before sdp.SessionDescription
		parsed := before.UnmarshalString(text) == nil
		filtered, err := relayCandidatesOnly(text)
		if (err == nil) != parsed {
			t.Fatalf("relay filter error %v for an SDP pion parses: %v", err, parsed)
		}
		if err == nil {
			if again, err := relayCandidatesOnly(filtered); err != nil || again != filtered {
				t.Fatalf("relay filter is not idempotent (%v)", err)
			}
			var after sdp.SessionDescription
			if err := after.UnmarshalString(filtered); err != nil {
				t.Fatalf("filtered SDP no longer parses: %v", err)
			}
			for _, c := range sdpCandidates(&after) {
				if cand, err := ice.UnmarshalCandidate(c); err == nil && cand.Type() != ice.CandidateTypeRelay {
					t.Fatalf("relay filter kept a %s candidate: %q", cand.Type(), c)
				}
			}
		}
		got := sdpUfrag(&webrtc.SessionDescription{SDP: text})
		// pion/sdp v3.0.20 trims one byte off a line's end for every CR
		// anywhere in it, so a CR inside a line loses its last bytes;
		// hibiki keeps them (docs/fuzzing.md). Compare where pion is right.
		if parsed && !strings.Contains(strings.ReplaceAll(text, "\r\n", ""), "\r") {
			if want := firstUfrag(&before); got != want {
				t.Fatalf("ufrag %q, pion reads %q", got, want)
			}
		}
	})
}

// sdpCandidates lists the candidate attribute values pion hands to ICE.
func sdpCandidates(s *sdp.SessionDescription) []string {
	var out []string
	for _, m := range s.MediaDescriptions {
		for _, a := range m.Attributes {
			if a.IsICECandidate() {
				out = append(out, a.Value)
			}
		}
	}
	return out
}

// firstUfrag is the first ice-ufrag pion sees (session level first).
func firstUfrag(s *sdp.SessionDescription) string {
	if v, ok := s.Attribute("ice-ufrag"); ok {
		return strings.TrimSpace(v)
	}
	for _, m := range s.MediaDescriptions {
		if v, ok := m.Attribute("ice-ufrag"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// FuzzHandleOffer applies an offer to a real publish connection the way
// HandleOffer does (relay filter, SetRemoteDescription, CreateAnswer) and
// checks that whatever pion accepted yields an answer that parses again.
// It stops before SetLocalDescription, which would gather candidates on
// real sockets for every input.
func FuzzHandleOffer(f *testing.F) {
	for _, s := range sdpSeeds(f) {
		f.Add(s, false)
		f.Add(s, true)
	}
	tr, err := newTransport(RTCConfig{IPs: []string{"127.0.0.1"}}, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = tr.close() })
	f.Fuzz(func(t *testing.T, offer string, relayOnly bool) {
		api, err := tr.newAPI(rolePublish, apiOptions{relayOnly: relayOnly})
		if err != nil {
			t.Fatal(err)
		}
		pc, err := api.NewPeerConnection(tr.pcConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = pc.Close() }()
		if relayOnly {
			if offer, err = relayCandidatesOnly(offer); err != nil {
				return
			}
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
			return
		}
		answer, err := pc.CreateAnswer(nil)
		if err != nil {
			return
		}
		var s sdp.SessionDescription
		if err := s.UnmarshalString(answer.SDP); err != nil {
			t.Fatalf("answer to an accepted offer does not parse: %v\n%s", err, answer.SDP)
		}
	})
}
