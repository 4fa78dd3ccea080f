package sfu

import "github.com/pion/webrtc/v4"

// Event is something a participant must be told. The SFU hands events to the
// participant's Notifier and never waits on the network, so a slow client
// cannot hold a room lock; the signaling layer turns them into messages.
type Event interface{ isEvent() }

// Notifier receives a participant's events. Notify must not block: the
// signaling session queues the event or, when its queue is full, drops the
// connection.
type Notifier interface {
	Notify(ev Event)
}

// ParticipantJoined tells the others that someone entered the room.
type ParticipantJoined struct{ Participant ParticipantInfo }

// ParticipantLeft tells the others that someone is gone.
type ParticipantLeft struct{ SID string }

// TrackPublished announces a track once its media arrives, so subscribers
// never wait on a track that has nothing to forward.
type TrackPublished struct {
	ParticipantSID string
	Track          TrackInfo
}

// TrackUnpublished announces that a track went away.
type TrackUnpublished struct{ ParticipantSID, TrackSID string }

// TrackMuted announces a mute change so tiles can show the muted icon.
type TrackMuted struct {
	ParticipantSID, TrackSID string
	Muted                    bool
}

// SubscribeOffer carries the server's offer on the subscribe connection.
// Mids maps each m-line's mid to the track SID it carries.
type SubscribeOffer struct {
	SDP  string
	Mids map[string]string
}

// LocalCandidate is a trickled server ICE candidate for one connection.
type LocalCandidate struct {
	Target    Target
	Candidate webrtc.ICECandidateInit
}

// LayersChanged tells a publisher which simulcast encodings anyone needs.
type LayersChanged struct {
	TrackSID string
	Active   []bool
}

// SubscriptionPaused tells a subscriber that a video track stopped (or
// resumed) being forwarded for lack of bandwidth or a hidden tile.
type SubscriptionPaused struct {
	TrackSID string
	Paused   bool
}

// BandwidthStats reports, periodically, a subscriber's bandwidth estimate
// and how the allocator spends it across the tracks it receives.
type BandwidthStats struct {
	// EstimateBps is the usable estimate; GCCBps pion GCC's raw target;
	// AckedBps what the subscriber acknowledged over the last 500 ms.
	EstimateBps, GCCBps, AckedBps int
	// SentBps is what the server sent (media, retransmissions, padding).
	SentBps int
	// LossPct is the loss the subscriber reported over the same window.
	LossPct float64
	// AllocatedBps is the expected cost of the current allocation.
	AllocatedBps int
	// Probing is set while padding probes the link.
	Probing bool
	Tracks  []TrackBandwidth
}

// TrackBandwidth is one subscribed track's allocation.
type TrackBandwidth struct {
	TrackSID string
	Audio    bool
	// Layer is the spatial layer ceiling, -1 when paused; Temporal the
	// highest temporal layer (-1: all).
	Layer, Temporal int
	BitrateBps      int
	Paused          bool
}

// ActiveSpeakers tells everyone who is speaking, loudest first, and who the
// dominant speaker is (the one a speaker view shows large).
type ActiveSpeakers struct {
	Dominant string
	Speakers []SpeakerLevel
}

// SpeakerLevel is one current speaker and its level from 0 to 1.
type SpeakerLevel struct {
	SID   string
	Level float64
}

// P2PStart tells one of a room's two participants to set up a direct
// connection to the other (docs/p2p.md). Offer says this side creates the
// first offer; the other answers.
type P2PStart struct {
	Session string
	PeerSID string
	Offer   bool
}

// P2PEnd tells a participant its direct session is over: it receives
// everything through the SFU again.
type P2PEnd struct{ Session, Reason string }

// P2PSignal is SDP or ICE of a direct connection, relayed from one of the
// pair to the other as is. Type is P2PSignalOffer, P2PSignalAnswer or
// P2PSignalCandidate.
type P2PSignal struct {
	Session   string
	From      string
	Type      string
	SDP       string
	Candidate *webrtc.ICECandidateInit
	// Mids maps the sender's mids to its own track SIDs.
	Mids map[string]string
}

// Kinds of P2PSignal.
const (
	P2PSignalOffer     = "offer"
	P2PSignalAnswer    = "answer"
	P2PSignalCandidate = "candidate"
)

// Removed tells a participant the server closed it (its identity joined
// again, or a room was closed); the session should end.
type Removed struct{ Reason string }

// PeerStateChanged reports a state change of one of the participant's
// connections. Signaling has its socket to tell it a client is gone; a WHIP
// session has none, so it ends when its connection fails or closes.
type PeerStateChanged struct {
	Target Target
	State  webrtc.PeerConnectionState
}

func (ParticipantJoined) isEvent()  {}
func (PeerStateChanged) isEvent()   {}
func (ParticipantLeft) isEvent()    {}
func (TrackPublished) isEvent()     {}
func (TrackUnpublished) isEvent()   {}
func (TrackMuted) isEvent()         {}
func (SubscribeOffer) isEvent()     {}
func (LocalCandidate) isEvent()     {}
func (LayersChanged) isEvent()      {}
func (SubscriptionPaused) isEvent() {}
func (Removed) isEvent()            {}
func (ActiveSpeakers) isEvent()     {}
func (BandwidthStats) isEvent()     {}
func (P2PStart) isEvent()           {}
func (P2PEnd) isEvent()             {}
func (P2PSignal) isEvent()          {}

// Target names one of a participant's two peer connections.
type Target uint8

// The publish connection carries a participant's own media (client offers);
// the subscribe connection carries everyone else's (server offers).
const (
	TargetPublish Target = iota + 1
	TargetSubscribe
)

// String returns the wire name.
func (t Target) String() string {
	switch t {
	case TargetPublish:
		return "publish"
	case TargetSubscribe:
		return "subscribe"
	default:
		return "unknown"
	}
}
