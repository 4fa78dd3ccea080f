package sfu

import (
	"context"
	"fmt"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// ICEParams are one side's ICE credentials and candidates: what WHIP and
// WHEP exchange in a PATCH to restart ICE without a new offer.
type ICEParams struct {
	Ufrag, Pwd string
	// Mid names the media section the candidates belong to (the first,
	// which carries the bundled transport).
	Mid string
	// Candidates are attribute values, e.g. "candidate:1 1 udp ...".
	Candidates []string
}

// PublishICE returns the remote ICE credentials of the publish connection.
func (p *Participant) PublishICE() ICEParams { return remoteICE(p.existingPublishPC()) }

// RestartPublishICE restarts ICE on the publish connection with the
// client's new credentials and returns the server's new ones.
func (p *Participant) RestartPublishICE(ctx context.Context, ufrag, pwd string) (ICEParams, error) {
	return restartICE(ctx, p.existingPublishPC(), ufrag, pwd)
}

// RemoteICE returns the viewer connection's remote ICE credentials.
func (v *Viewer) RemoteICE() ICEParams { return remoteICE(v.pc) }

// RestartICE restarts ICE on the viewer's connection.
func (v *Viewer) RestartICE(ctx context.Context, ufrag, pwd string) (ICEParams, error) {
	return restartICE(ctx, v.pc, ufrag, pwd)
}

func remoteICE(pc *webrtc.PeerConnection) ICEParams {
	if pc == nil {
		return ICEParams{}
	}
	d := pc.RemoteDescription()
	if d == nil {
		return ICEParams{}
	}
	return iceParams(d.SDP)
}

// restartICE re-applies the client's last offer with its credentials
// replaced, which makes pion restart ICE as the answerer: the non-ICE part
// of the session stays as negotiated, as RFC 9725 section 4.4 requires.
func restartICE(ctx context.Context, pc *webrtc.PeerConnection, ufrag, pwd string) (ICEParams, error) {
	if pc == nil || pc.RemoteDescription() == nil {
		return ICEParams{}, fmt.Errorf("%w: no offer to restart", ErrBadSDP)
	}
	rd := pc.RemoteDescription()
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(rd.SDP); err != nil {
		return ICEParams{}, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	desc.Attributes = replaceICE(desc.Attributes, ufrag, pwd)
	for _, m := range desc.MediaDescriptions {
		m.Attributes = replaceICE(m.Attributes, ufrag, pwd)
	}
	offer, err := desc.Marshal()
	if err != nil {
		return ICEParams{}, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
		return ICEParams{}, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return ICEParams{}, fmt.Errorf("%w: create answer: %w", ErrBadSDP, err)
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		return ICEParams{}, fmt.Errorf("%w: set answer: %w", ErrBadSDP, err)
	}
	waitGathering(ctx, pc)
	return iceParams(pc.LocalDescription().SDP), nil
}

// replaceICE swaps credentials and drops the old candidates, which belong
// to the transport being replaced.
func replaceICE(attrs []sdp.Attribute, ufrag, pwd string) []sdp.Attribute {
	out := attrs[:0]
	for _, a := range attrs {
		switch a.Key {
		case "ice-ufrag":
			a.Value = ufrag
		case "ice-pwd":
			a.Value = pwd
		case "candidate", "end-of-candidates":
			continue
		}
		out = append(out, a)
	}
	return out
}

// iceParams reads credentials (session or first media section level) and
// the first media section's candidates.
func iceParams(s string) ICEParams {
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(s); err != nil {
		return ICEParams{}
	}
	var p ICEParams
	read := func(attrs []sdp.Attribute, candidates bool) {
		for _, a := range attrs {
			switch {
			case a.Key == "ice-ufrag" && p.Ufrag == "":
				p.Ufrag = a.Value
			case a.Key == "ice-pwd" && p.Pwd == "":
				p.Pwd = a.Value
			case a.Key == "mid" && p.Mid == "":
				p.Mid = a.Value
			case a.Key == "candidate" && candidates:
				p.Candidates = append(p.Candidates, "candidate:"+a.Value)
			}
		}
	}
	read(desc.Attributes, false)
	if len(desc.MediaDescriptions) > 0 {
		read(desc.MediaDescriptions[0].Attributes, true)
	}
	return p
}
