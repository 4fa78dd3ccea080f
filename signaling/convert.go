package signaling

import (
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/hibiki-sfu/hibiki/sfu"
)

// maxNameLen bounds client-supplied names and ids echoed to other clients.
const maxNameLen = 128

func participantInfo(p sfu.ParticipantInfo) *ParticipantInfo {
	out := &ParticipantInfo{SID: p.SID, Identity: p.Identity, Name: p.Name}
	for _, t := range p.Tracks {
		out.Tracks = append(out.Tracks, trackInfo(t))
	}
	return out
}

func trackInfo(t sfu.TrackInfo) *TrackInfo {
	out := &TrackInfo{
		SID: t.SID, ClientID: t.ClientID, Kind: t.Kind.String(), Source: t.Source, Name: t.Name,
		Muted: t.Muted, Simulcast: t.Simulcast, MimeType: t.MimeType, Width: t.Width, Height: t.Height,
	}
	for _, l := range t.Layers {
		out.Layers = append(out.Layers, Layer{RID: l.RID, Width: l.Width, Height: l.Height})
	}
	return out
}

func validText(s string) bool { return len(s) <= maxNameLen && utf8.ValidString(s) }

// trackRequest validates a client's publish request.
func trackRequest(t *TrackInfo) (sfu.TrackRequest, error) {
	var kind sfu.Kind
	switch t.Kind {
	case "audio":
		kind = sfu.KindAudio
	case "video":
		kind = sfu.KindVideo
	default:
		return sfu.TrackRequest{}, newError(CodeBadRequest, `kind must be "audio" or "video"`, nil)
	}
	if t.ClientID == "" || !validText(t.ClientID) || !validText(t.Name) {
		return sfu.TrackRequest{}, newError(CodeBadRequest, "cid missing or cid/name too long", nil)
	}
	switch t.Source {
	case "":
		t.Source = SourceCamera
		if kind == sfu.KindAudio {
			t.Source = SourceMicrophone
		}
	case SourceCamera, SourceMicrophone, SourceScreen, SourceScreenAudio:
	default:
		return sfu.TrackRequest{}, newError(CodeBadRequest, fmt.Sprintf("unknown source %q", t.Source), nil)
	}
	if len(t.Layers) > sfu.MaxSpatialLayers {
		return sfu.TrackRequest{}, newError(CodeBadRequest, "at most 3 simulcast layers", nil)
	}
	req := sfu.TrackRequest{
		ClientID: t.ClientID, Kind: kind, Source: t.Source, Name: t.Name, Muted: t.Muted,
		Width: t.Width, Height: t.Height,
	}
	for _, l := range t.Layers {
		if l.RID == "" || len(l.RID) > 16 {
			return sfu.TrackRequest{}, newError(CodeBadRequest, "layer rid missing or too long", nil)
		}
		req.Layers = append(req.Layers, sfu.LayerSpec{RID: l.RID, Width: l.Width, Height: l.Height})
	}
	return req, nil
}

// eventMessage turns an SFU event into the message the client receives.
func eventMessage(ev sfu.Event) *Message {
	switch e := ev.(type) {
	case sfu.ParticipantJoined:
		return &Message{Type: TypeParticipantJoined, Participant: participantInfo(e.Participant)}
	case sfu.ParticipantLeft:
		return &Message{Type: TypeParticipantLeft, ParticipantSID: e.SID}
	case sfu.TrackPublished:
		return &Message{Type: TypeTrackPublished, ParticipantSID: e.ParticipantSID, Track: trackInfo(e.Track)}
	case sfu.TrackUnpublished:
		return &Message{Type: TypeTrackUnpublished, ParticipantSID: e.ParticipantSID, TrackSID: e.TrackSID}
	case sfu.TrackMuted:
		muted := e.Muted
		return &Message{Type: TypeTrackMuted, ParticipantSID: e.ParticipantSID, TrackSID: e.TrackSID, Muted: &muted}
	case sfu.SubscribeOffer:
		return &Message{Type: TypeOffer, Target: TargetSubscribe, SDP: e.SDP, Mids: e.Mids}
	case sfu.LocalCandidate:
		c := e.Candidate
		return &Message{Type: TypeCandidate, Target: e.Target.String(), Candidate: &ICECandidate{
			Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
		}}
	case sfu.LayersChanged:
		return &Message{Type: TypeLayersChanged, TrackSID: e.TrackSID, Active: e.Active}
	case sfu.SubscriptionPaused:
		paused := e.Paused
		return &Message{Type: TypeSubscriptionPaused, TrackSID: e.TrackSID, Paused: &paused}
	case sfu.ActiveSpeakers:
		return speakersMessage(e)
	case sfu.BandwidthStats:
		return &Message{Type: TypeStats, Stats: bandwidthStats(e)}
	case sfu.P2PStart:
		role := P2PRoleAnswer
		if e.Offer {
			role = P2PRoleOffer
		}
		return &Message{Type: TypeP2P, Session: e.Session, ParticipantSID: e.PeerSID, Role: role}
	case sfu.P2PEnd:
		return &Message{Type: TypeP2PEnd, Session: e.Session, Reason: e.Reason}
	case sfu.P2PSignal:
		return p2pSignalMessage(e)
	case sfu.Removed:
		return &Message{Type: TypeRemoved, Message: e.Reason}
	default:
		return nil
	}
}

func bandwidthStats(e sfu.BandwidthStats) *BandwidthStats {
	out := &BandwidthStats{
		Estimate: e.EstimateBps, GCC: e.GCCBps, Acked: e.AckedBps, Sent: e.SentBps, Loss: math.Round(e.LossPct*100) / 100,
		Allocated: e.AllocatedBps, Probing: e.Probing, Tracks: make([]TrackBandwidth, 0, len(e.Tracks)),
	}
	for _, t := range e.Tracks {
		kind := sfu.KindVideo.String()
		if t.Audio {
			kind = sfu.KindAudio.String()
		}
		out.Tracks = append(out.Tracks, TrackBandwidth{
			TrackSID: t.TrackSID, Kind: kind, Layer: t.Layer, Temporal: t.Temporal, Bitrate: t.BitrateBps, Paused: t.Paused,
		})
	}
	return out
}

// speakersMessage is the activeSpeakers message of e, nil when nobody has
// spoken yet.
func speakersMessage(e sfu.ActiveSpeakers) *Message {
	if e.Dominant == "" && len(e.Speakers) == 0 {
		return nil
	}
	m := &Message{Type: TypeActiveSpeakers, Dominant: e.Dominant, Speakers: make([]Speaker, 0, len(e.Speakers))}
	for _, l := range e.Speakers {
		m.Speakers = append(m.Speakers, Speaker{SID: l.SID, Level: math.Round(l.Level*100) / 100})
	}
	return m
}
