package sfu

import "errors"

// Errors returned by the SFU API. Signaling maps them to wire error codes with
// errors.Is, so each names one reason a request can be refused.
var (
	ErrBadIP             = errors.New("sfu: invalid IP address")
	ErrClosed            = errors.New("sfu: closed")
	ErrRoomFull          = errors.New("sfu: room is full")
	ErrTooManyRooms      = errors.New("sfu: too many rooms on this node")
	ErrTooManyTracks     = errors.New("sfu: too many tracks")
	ErrTrackNotFound     = errors.New("sfu: track not found")
	ErrBadSDP            = errors.New("sfu: invalid session description")
	ErrBadCandidate      = errors.New("sfu: invalid ICE candidate")
	ErrBadKind           = errors.New("sfu: invalid track kind")
	ErrNoOfferInFlight   = errors.New("sfu: no subscribe offer in flight")
	ErrAlreadySubscribed = errors.New("sfu: already subscribed")
	ErrNoMedia           = errors.New("sfu: no usable media in the offer")
	ErrRoomNotFound      = errors.New("sfu: room not found")
	ErrNotFound          = errors.New("sfu: participant not found")
)
