package sfu

import (
	"fmt"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// acceptsMedia reports whether an answer accepted at least one audio or
// video section in direction dir (or sendrecv). pion rejects a section
// whose codecs it cannot take by giving it port 0, and marks sections it
// has nothing to do with inactive.
func acceptsMedia(answer string, dir webrtc.RTPTransceiverDirection) bool {
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(answer); err != nil {
		return false
	}
	for _, m := range desc.MediaDescriptions {
		kind := m.MediaName.Media
		if (kind != "audio" && kind != "video") || m.MediaName.Port.Value == 0 {
			continue
		}
		if d := mediaDirection(m); d == dir || d == webrtc.RTPTransceiverDirectionSendrecv {
			return true
		}
	}
	return false
}

// mediaDirection reads a media section's direction attribute; RFC 4566
// makes sendrecv the default.
func mediaDirection(m *sdp.MediaDescription) webrtc.RTPTransceiverDirection {
	for _, a := range m.Attributes {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			return webrtc.NewRTPTransceiverDirection(a.Key)
		}
	}
	return webrtc.RTPTransceiverDirectionSendrecv
}

// checkCandidate refuses a candidate pion cannot parse: pion skips such
// candidates without an error, and a client sending garbage deserves to
// hear about it.
func checkCandidate(c webrtc.ICECandidateInit) error {
	if _, err := ice.UnmarshalCandidate(c.Candidate); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCandidate, err)
	}
	return nil
}
