package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Message types sent by clients. Each request may carry an "id"; the server
// echoes it on the reply (or on the error) so a client can match them.
const (
	TypeJoin         = "join"
	TypeOffer        = "offer"
	TypeAnswer       = "answer"
	TypeCandidate    = "candidate"
	TypePublish      = "publish"
	TypeUnpublish    = "unpublish"
	TypeMute         = "mute"
	TypeSubscribe    = "subscribe"
	TypeUnsubscribe  = "unsubscribe"
	TypeSetVideoSize = "setVideoSize"
	TypeLeave        = "leave"
	TypePing         = "ping"
	// Lobby sockets (docs/protocol.md "Lobby").
	TypeLobby        = "lobby"
	TypeInvite       = "invite"
	TypeAnswerInvite = "answerInvite"
	TypeCancelInvite = "cancelInvite"
	// Peer-to-peer calls (docs/p2p.md). Offers, answers and candidates go
	// both ways: the server relays them to the peer.
	TypeP2POffer     = "p2pOffer"
	TypeP2PAnswer    = "p2pAnswer"
	TypeP2PCandidate = "p2pCandidate"
	TypeP2PReady     = "p2pReady"
	TypeP2PFailed    = "p2pFailed"
)

// Message types sent by the server: replies and events.
const (
	TypeJoined             = "joined"
	TypeOK                 = "ok"
	TypePublished          = "published"
	TypeError              = "error"
	TypePong               = "pong"
	TypeParticipantJoined  = "participantJoined"
	TypeParticipantLeft    = "participantLeft"
	TypeTrackPublished     = "trackPublished"
	TypeTrackUnpublished   = "trackUnpublished"
	TypeTrackMuted         = "trackMuted"
	TypeLayersChanged      = "layersChanged"
	TypeSubscriptionPaused = "subscriptionPaused"
	TypeRemoved            = "removed"
	TypeActiveSpeakers     = "activeSpeakers"
	TypeStats              = "stats"
	TypeLobbyJoined        = "lobbyJoined"
	TypePresence           = "presence"
	TypeInvited            = "invited"
	TypeInviteAccepted     = "inviteAccepted"
	TypeInviteEnded        = "inviteEnded"
	TypeP2P                = "p2p"
	TypeP2PEnd             = "p2pEnd"
	// TypeRedirect answers a join on a node that does not serve the room
	// (docs/cluster.md): join at url instead; the socket closes next.
	TypeRedirect = "redirect"
)

// CapabilityP2P in a join's capabilities says the client can take part in
// direct two-party calls.
const CapabilityP2P = "p2p"

// Roles of a p2p message: which side makes the first offer.
const (
	P2PRoleOffer  = "offer"
	P2PRoleAnswer = "answer"
)

// ICETransportPolicyRelay tells a client to gather and use relay
// candidates only.
const ICETransportPolicyRelay = "relay"

// Targets name which of a participant's two peer connections an SDP or ICE
// message belongs to. The client offers on the publish connection and the
// server offers on the subscribe connection, so the two never meet in glare.
const (
	TargetPublish   = "publish"
	TargetSubscribe = "subscribe"
)

// Track sources let a page lay out tiles (a screen share is shown large) and
// let the allocator rank tracks without guessing from the kind.
const (
	SourceCamera      = "camera"
	SourceMicrophone  = "microphone"
	SourceScreen      = "screen"
	SourceScreenAudio = "screen_audio"
)

// Message is the envelope of every frame in both directions. Only the fields
// that belong to a type are set; unknown fields are ignored so that older
// clients keep working when the protocol grows.
type Message struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`

	// join
	Token         string `json:"token,omitempty"`
	Resume        string `json:"resume,omitempty"`
	AutoSubscribe *bool  `json:"autoSubscribe,omitempty"`
	// Capabilities lists optional features the client supports ("p2p").
	Capabilities []string `json:"capabilities,omitempty"`

	// offer / answer / candidate
	Target    string            `json:"target,omitempty"`
	SDP       string            `json:"sdp,omitempty"`
	Candidate *ICECandidate     `json:"candidate,omitempty"`
	Mids      map[string]string `json:"mids,omitempty"`

	// publish / unpublish / mute / subscribe / setVideoSize
	Track    *TrackInfo `json:"track,omitempty"`
	TrackSID string     `json:"trackSid,omitempty"`
	Muted    *bool      `json:"muted,omitempty"`
	Width    int        `json:"width,omitempty"`
	Height   int        `json:"height,omitempty"`
	MaxLayer *int       `json:"maxLayer,omitempty"`

	// joined / events
	Room           string             `json:"room,omitempty"`
	SessionID      string             `json:"sessionId,omitempty"`
	Participant    *ParticipantInfo   `json:"participant,omitempty"`
	Participants   []*ParticipantInfo `json:"participants,omitempty"`
	ICEServers     []ICEServer        `json:"iceServers,omitempty"`
	MaxDataSize    int                `json:"maxDataSize,omitempty"`
	ParticipantSID string             `json:"participantSid,omitempty"`
	Active         []bool             `json:"active,omitempty"`
	Paused         *bool              `json:"paused,omitempty"`
	Dominant       string             `json:"dominant,omitempty"`
	Speakers       []Speaker          `json:"speakers,omitempty"`
	Stats          *BandwidthStats    `json:"stats,omitempty"`
	// ICETransportPolicy is "relay" when the client must connect through
	// TURN only (RTCConfiguration.iceTransportPolicy); empty means "all".
	ICETransportPolicy string `json:"iceTransportPolicy,omitempty"`
	// Resumed is true in a joined that re-attached an existing
	// participant (join with resume): keep the peer connections.
	Resumed bool `json:"resumed,omitempty"`

	// lobby, presence and invites
	Identity string         `json:"identity,omitempty"`
	InviteID string         `json:"inviteId,omitempty"`
	Accept   *bool          `json:"accept,omitempty"`
	User     *PresenceUser  `json:"user,omitempty"`
	Users    []PresenceUser `json:"users,omitempty"`
	From     *PresenceUser  `json:"from,omitempty"`
	Peer     *PresenceUser  `json:"peer,omitempty"`
	// Reason is also why a p2p session ended (p2pEnd).
	Reason string `json:"reason,omitempty"`

	// p2p / p2pEnd / p2pOffer / p2pAnswer / p2pCandidate / p2pReady /
	// p2pFailed: the direct session and the side that offers first.
	Session string `json:"session,omitempty"`
	Role    string `json:"role,omitempty"`

	// redirect
	URL string `json:"url,omitempty"`

	// error
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Speaker is one entry of an activeSpeakers event: a participant and its
// speech level from 0 to 1.
type Speaker struct {
	SID   string  `json:"sid"`
	Level float64 `json:"level"`
}

// BandwidthStats is the body of a stats event: the subscriber's bandwidth
// estimate and how it is spent, every couple of seconds.
type BandwidthStats struct {
	// Estimate is the usable estimate in bit/s; GCC is pion GCC's raw
	// target; Acked is what the client acknowledged over the last 500 ms.
	Estimate int `json:"estimate"`
	GCC      int `json:"gcc"`
	Acked    int `json:"acked"`
	// Sent is what the server sent (media, retransmissions, padding).
	Sent int `json:"sent"`
	// Loss is the loss the client reported over that window, in percent.
	Loss float64 `json:"loss"`
	// Allocated is the expected cost of the allocation below, in bit/s.
	Allocated int              `json:"allocated"`
	Probing   bool             `json:"probing,omitempty"`
	Tracks    []TrackBandwidth `json:"tracks"`
}

// TrackBandwidth is one received track's allocation.
type TrackBandwidth struct {
	TrackSID string `json:"trackSid"`
	Kind     string `json:"kind"`
	// Layer is the spatial layer (0 lowest), -1 while paused; Temporal the
	// highest temporal layer, -1 for all.
	Layer    int  `json:"layer"`
	Temporal int  `json:"temporal"`
	Bitrate  int  `json:"bitrate"`
	Paused   bool `json:"paused,omitempty"`
}

// ICECandidate mirrors the browser's RTCIceCandidateInit so the JS client can
// pass candidates through untouched.
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// ICEServer mirrors the browser's RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ParticipantInfo is what others know of a participant.
type ParticipantInfo struct {
	SID      string       `json:"sid"`
	Identity string       `json:"identity"`
	Name     string       `json:"name,omitempty"`
	Tracks   []*TrackInfo `json:"tracks,omitempty"`
}

// TrackInfo describes a published track. On publish the client fills
// ClientID (the MediaStreamTrack id, which appears as the msid track id in
// its SDP), Kind, Source and Name; the server assigns SID.
type TrackInfo struct {
	SID       string  `json:"sid,omitempty"`
	ClientID  string  `json:"cid,omitempty"`
	Kind      string  `json:"kind,omitempty"`
	Source    string  `json:"source,omitempty"`
	Name      string  `json:"name,omitempty"`
	Muted     bool    `json:"muted,omitempty"`
	Simulcast bool    `json:"simulcast,omitempty"`
	Width     int     `json:"width,omitempty"`
	Height    int     `json:"height,omitempty"`
	MimeType  string  `json:"mimeType,omitempty"`
	Layers    []Layer `json:"layers,omitempty"`
}

// Layer describes one simulcast encoding the client sends, in order from
// lowest to highest ("q", "h", "f" by convention).
type Layer struct {
	RID    string `json:"rid"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
}

// Error codes. They are stable strings so clients can switch on them.
const (
	CodeBadJSON      = "bad_json"
	CodeUnknownType  = "unknown_type"
	CodeTooLarge     = "too_large"
	CodeBadRequest   = "bad_request"
	CodeBadToken     = "bad_token"
	CodeTokenExpired = "token_expired"
	CodeForbidden    = "forbidden"
	CodeNotJoined    = "not_joined"
	CodeNotFound     = "not_found"
	CodeRoomFull     = "room_full"
	CodeServerFull   = "server_full"
	CodeRateLimited  = "rate_limited"
	CodeInternal     = "internal"
	// CodeUnavailable refuses a join whose room cannot be placed now (the
	// cluster's Redis is unreachable); retry with backoff.
	CodeUnavailable = "unavailable"
)

// Error is the typed error every handler returns for a refused request; its
// Code goes on the wire unchanged.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap lets errors.Is reach the cause.
func (e *Error) Unwrap() error { return e.Err }

func newError(code, msg string, err error) *Error {
	return &Error{Code: code, Message: msg, Err: err}
}

// maxIDLen bounds the request id, in characters, that replies echo.
const maxIDLen = 64

// ErrMessageTooLarge is returned by Decode for frames above the size limit.
var ErrMessageTooLarge = errors.New("signaling: message too large")

// Decode parses one client frame. It never panics on hostile input and
// returns an *Error whose code tells the client what was wrong.
func Decode(data []byte, limit int) (*Message, error) {
	if limit > 0 && len(data) > limit {
		return nil, newError(CodeTooLarge, fmt.Sprintf("message of %d bytes exceeds the %d byte limit", len(data), limit), ErrMessageTooLarge)
	}
	// null, arrays and scalars unmarshal into a struct without a syntax
	// error (null even without any error); the frame must be an object.
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, newError(CodeBadJSON, "message is not a JSON object", nil)
	}
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		// Well-formed JSON whose field has the wrong type is a bad field,
		// not bad JSON.
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, newError(CodeBadRequest, "field "+typeErr.Field+" has the wrong type", err)
		}
		return nil, newError(CodeBadJSON, "message is not valid JSON", err)
	}
	if m.Type == "" {
		return nil, newError(CodeBadRequest, "message has no type", nil)
	}
	if utf8.RuneCountInString(m.ID) > maxIDLen {
		return nil, newError(CodeBadRequest, "id longer than 64 characters", nil)
	}
	return &m, nil
}
