package signaling

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/pion/webrtc/v4"
)

// handler serves one request type. It returns the reply to send (nil for
// none) or an error, which becomes an error message with the request id.
type handler func(s *session, m *Message) (*Message, error)

// handlers is the dispatch table; a function per message type keeps each
// request's rules in one small place.
func handlers() map[string]handler {
	return map[string]handler{
		TypeJoin:         handleJoin,
		TypeOffer:        joined(handleOffer),
		TypeAnswer:       joined(handleAnswer),
		TypeCandidate:    joined(handleCandidate),
		TypePublish:      joined(handlePublish),
		TypeUnpublish:    joined(handleUnpublish),
		TypeMute:         joined(handleMute),
		TypeSubscribe:    joined(handleSubscribe),
		TypeUnsubscribe:  joined(handleUnsubscribe),
		TypeSetVideoSize: joined(handleSetVideoSize),
		TypeLeave:        joined(handleLeave),
		TypeP2POffer:     joined(handleP2PRelay),
		TypeP2PAnswer:    joined(handleP2PRelay),
		TypeP2PCandidate: joined(handleP2PRelay),
		TypeP2PReady:     joined(handleP2PReady),
		TypeP2PFailed:    joined(handleP2PFailed),
		TypePing:         func(*session, *Message) (*Message, error) { return &Message{Type: TypePong}, nil },
		TypeLobby:        handleLobby,
		TypeInvite:       inLobby(handleInvite),
		TypeAnswerInvite: inLobby(handleAnswerInvite),
		TypeCancelInvite: inLobby(handleCancelInvite),
	}
}

// errLeave tells the read loop to end the session after replying.
var errLeave = errors.New("signaling: leave")

// ErrUnavailable, wrapped by a Locate error, refuses a join with the code
// unavailable: the room cannot be placed now.
var ErrUnavailable = errors.New("signaling: room placement unavailable")

// redirect tells the read loop to answer redirect and end the session.
type redirect struct{ url string }

func (r *redirect) Error() string { return "signaling: redirect to " + r.url }

// handle decodes and dispatches one frame; false ends the session.
func (s *session) handle(data []byte) bool {
	m, err := Decode(data, s.srv.cfg.MaxMessageSize)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			s.sendError("", e, int64(len(data)))
		}
		return true
	}
	if !s.allowMessage() {
		s.sendError(m.ID, newError(CodeRateLimited, "too many messages", nil), 0)
		// A client that keeps sending into the limit is not a slow
		// network: end it.
		return s.refused <= 2*max(s.srv.cfg.Limits.MessageBurst, 1)
	}
	h, ok := s.srv.handlers[m.Type]
	if !ok {
		s.sendError(m.ID, newError(CodeUnknownType, fmt.Sprintf("unknown message type %q", m.Type), nil), 0)
		return true
	}
	reply, err := h(s, m)
	if errors.Is(err, errLeave) {
		s.send(&Message{Type: TypeOK, ID: m.ID})
		return false
	}
	var to *redirect
	if errors.As(err, &to) {
		s.send(&Message{Type: TypeRedirect, ID: m.ID, URL: to.url})
		return false
	}
	if err != nil {
		e := toError(err)
		s.countRefusal(m.Type, e)
		s.sendError(m.ID, e, 0)
		// A failed join leaves nothing to talk about.
		return (m.Type != TypeJoin && m.Type != TypeLobby) || s.p != nil || s.member != nil
	}
	if reply != nil {
		reply.ID = m.ID
		s.send(reply)
	}
	return true
}

// allowMessage applies the session's message rate; the first refusal of a
// run is logged, every one is counted.
func (s *session) allowMessage() bool {
	lim := s.srv.cfg.Limits
	if lim.MessagesPerSecond <= 0 || s.msgs.take(time.Now(), lim.MessagesPerSecond, max(lim.MessageBurst, 1)) {
		s.refused = 0
		return true
	}
	s.srv.refusals.RateLimited.Add(1)
	if s.refused == 0 {
		s.logger.Warn("client over its message rate", "per_second", lim.MessagesPerSecond, "burst", lim.MessageBurst)
	}
	s.refused++
	if s.refused > 2*max(lim.MessageBurst, 1) {
		s.srv.refusals.Violations.Add(1)
		s.logger.Warn("client kept sending over its message rate, closing")
	}
	return false
}

// countRefusal counts and logs refused joins and limits (never the token).
func (s *session) countRefusal(typ string, e *Error) {
	r := &s.srv.refusals
	switch e.Code {
	case CodeRoomFull:
		r.RoomFull.Add(1)
	case CodeServerFull:
		r.ServerFull.Add(1)
	case CodeBadToken, CodeTokenExpired:
		r.Token.Add(1)
	case CodeRateLimited:
		if errors.Is(e, sfu.ErrTooManyTracks) {
			r.TooManyTracks.Add(1)
		}
	default:
		if typ != TypeJoin {
			return
		}
	}
	s.logger.Info("request refused", "type", typ, "code", e.Code, "reason", e.Message)
}

// toError maps SFU and token errors to wire codes.
func toError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, ErrTokenExpired):
		return newError(CodeTokenExpired, "token expired", err)
	case errors.Is(err, ErrTokenInvalid):
		return newError(CodeBadToken, "token invalid", err)
	case errors.Is(err, sfu.ErrRoomFull):
		return newError(CodeRoomFull, "room is full", err)
	case errors.Is(err, sfu.ErrTooManyRooms):
		return newError(CodeServerFull, "this server holds its maximum number of rooms", err)
	case errors.Is(err, sfu.ErrTrackNotFound):
		return newError(CodeNotFound, "no such track", err)
	case errors.Is(err, sfu.ErrBadSDP), errors.Is(err, sfu.ErrBadCandidate), errors.Is(err, sfu.ErrBadKind),
		errors.Is(err, sfu.ErrNoOfferInFlight), errors.Is(err, sfu.ErrAlreadySubscribed):
		return newError(CodeBadRequest, err.Error(), err)
	case errors.Is(err, ErrUnavailable):
		return newError(CodeUnavailable, "room cannot be placed now; retry", err)
	case errors.Is(err, sfu.ErrTooManyTracks):
		return newError(CodeRateLimited, "too many tracks", err)
	case errors.Is(err, ErrQueueFull):
		return newError(CodeRateLimited, "too many messages waiting; retry the rest", err)
	case errors.Is(err, ErrSeqGap):
		return newError(CodeBadRequest, "seq gap: resend from the acked seq", err)
	case errors.Is(err, ErrBadAck):
		return newError(CodeBadRequest, "ack beyond the last message sent", err)
	case errors.Is(err, ErrLinkClosed):
		return newError(CodeNotFound, "session ended", err)
	default:
		return newError(CodeInternal, "internal error", err)
	}
}

func joined(h handler) handler {
	return func(s *session, m *Message) (*Message, error) {
		if s.p == nil {
			return nil, newError(CodeNotJoined, "join first", nil)
		}
		return h(s, m)
	}
}

func handleJoin(s *session, m *Message) (*Message, error) {
	if s.p != nil || s.member != nil {
		return nil, newError(CodeBadRequest, "already joined", nil)
	}
	if !s.srv.joins.allow(s.addr, time.Now()) {
		s.srv.refusals.JoinsLimited.Add(1)
		return nil, newError(CodeRateLimited, "too many join attempts from this address", nil)
	}
	if m.Token == "" {
		return nil, newError(CodeBadToken, "token missing", nil)
	}
	start := time.Now()
	claims, err := s.srv.cfg.Verifier.Verify(m.Token)
	if err != nil {
		return nil, toError(err)
	}
	if claims.Room == s.srv.lobby.cfg.Room {
		return nil, newError(CodeForbidden, "the lobby is not a media room; send lobby instead of join", nil)
	}
	if m.Resume != "" {
		if a := s.srv.lookup(m.Resume); a != nil {
			return resume(s, m, claims, a)
		}
		// Expired or unknown: a fresh join, which the client recognises
		// by resumed being false and a new sessionId.
		s.logger.Debug("resume of an unknown session, joining afresh")
	}
	if err := locate(s, claims.Room); err != nil {
		return nil, err
	}
	auto := m.AutoSubscribe == nil || *m.AutoSubscribe
	req := sfu.JoinRequest{
		Identity: claims.Identity(),
		Name:     claims.Name,
		Grants: sfu.Grants{
			CanPublish:     claims.Grants.CanPublish,
			CanSubscribe:   claims.Grants.CanSubscribe,
			CanPublishData: claims.Grants.CanPublishData,
		},
		AutoSubscribe: auto,
		P2P:           slices.Contains(m.Capabilities, CapabilityP2P),
	}
	// The attachment holds every event of the participant (others
	// joining, the first subscribe offer) until the reply is out.
	a := newAttachment(s.srv, claims)
	p, others, err := s.srv.sfu.Join(claims.Room, req, a)
	if err != nil {
		return nil, toError(err)
	}
	s.srv.lobby.callChanged(claims.Identity(), +1)
	a.mu.Lock()
	a.p, a.id = p, p.SID()
	a.mu.Unlock()
	s.srv.register(a)
	s.p, s.att, s.claims = p, a, claims
	if f := s.srv.cfg.OnJoin; f != nil {
		f(time.Since(start))
	}
	s.logger = s.logger.With("participant", p.SID())
	reply := joinedReply(s, p, claims)
	reply.ID = m.ID
	reply.Participants = make([]*ParticipantInfo, 0, len(others))
	for _, o := range others {
		reply.Participants = append(reply.Participants, participantInfo(o))
	}
	a.joined(s, reply)
	return nil, nil
}

// locate asks the cluster where room is served: nil to join here, a
// *redirect, or the error that refuses the join.
func locate(s *session, room string) error {
	f := s.srv.cfg.Locate
	if f == nil {
		return nil
	}
	url, err := f(s.srv.ctx, room)
	if err != nil {
		return err
	}
	if url != "" {
		s.logger.Debug("redirecting join", "room", room, "url", url)
		return &redirect{url: url}
	}
	return nil
}

// resume re-attaches a participant whose socket dropped (or is about to:
// the client noticed first) to this socket. The token must be for the same
// identity and room. Others see nothing: no participantLeft, no
// participantJoined.
func resume(s *session, m *Message, claims *Claims, a *attachment) (*Message, error) {
	if claims.Identity() != a.claims.Identity() || claims.Room != a.claims.Room {
		return nil, newError(CodeForbidden, "token is for another participant", nil)
	}
	p := a.p
	reply := joinedReply(s, p, claims)
	reply.ID = m.ID
	reply.Resumed = true
	for _, q := range p.Room().Participants() {
		if q != p {
			reply.Participants = append(reply.Participants, participantInfo(q.Info()))
		}
	}
	old, ok := a.attach(s, reply)
	if !ok {
		return nil, newError(CodeNotFound, "session ended", nil)
	}
	if old != nil {
		old.close() // superseded: its end does not touch the participant
	}
	s.p, s.att, s.claims = p, a, claims
	s.logger = s.logger.With("participant", p.SID())
	s.logger.Info("participant resumed")
	p.Resume()
	return nil, nil
}

// joinedReply is the joined message without the other participants.
func joinedReply(s *session, p *sfu.Participant, claims *Claims) *Message {
	reply := &Message{
		Type:        TypeJoined,
		Room:        claims.Room,
		SessionID:   p.SID(),
		Participant: participantInfo(p.Info()),
		ICEServers:  s.srv.cfg.ICEServers,
	}
	if f := s.srv.cfg.ICEServersFor; f != nil {
		reply.ICEServers = f(claims)
	}
	if p.RelayOnly() {
		reply.ICETransportPolicy = ICETransportPolicyRelay
	}
	if dc := s.srv.sfu.DataConfig(); !dc.Disabled {
		reply.MaxDataSize = dc.MaxMessageSize
	}
	// The current speakers, so a late or resumed joiner need not wait for
	// the next change to show the speaker view.
	if cur := speakersMessage(p.Room().ActiveSpeakers()); cur != nil {
		reply.Dominant, reply.Speakers = cur.Dominant, cur.Speakers
	}
	return reply
}

func parseTarget(t string) (sfu.Target, error) {
	switch t {
	case TargetPublish:
		return sfu.TargetPublish, nil
	case TargetSubscribe:
		return sfu.TargetSubscribe, nil
	default:
		return 0, newError(CodeBadRequest, fmt.Sprintf("target must be %q or %q", TargetPublish, TargetSubscribe), nil)
	}
}

func handleOffer(s *session, m *Message) (*Message, error) {
	if m.Target != TargetPublish {
		return nil, newError(CodeBadRequest, "offers are accepted on the publish connection only", nil)
	}
	if m.SDP == "" {
		return nil, newError(CodeBadRequest, "sdp missing", nil)
	}
	answer, err := s.p.HandleOffer(m.SDP)
	if err != nil {
		return nil, err
	}
	return &Message{Type: TypeAnswer, Target: TargetPublish, SDP: answer}, nil
}

func handleAnswer(s *session, m *Message) (*Message, error) {
	if m.Target != TargetSubscribe {
		return nil, newError(CodeBadRequest, "answers are accepted on the subscribe connection only", nil)
	}
	if m.SDP == "" {
		return nil, newError(CodeBadRequest, "sdp missing", nil)
	}
	return nil, s.p.HandleAnswer(m.SDP)
}

func handleCandidate(s *session, m *Message) (*Message, error) {
	target, err := parseTarget(m.Target)
	if err != nil {
		return nil, err
	}
	if m.Candidate == nil {
		return nil, newError(CodeBadRequest, "candidate missing", nil)
	}
	if m.Candidate.Candidate == "" {
		return nil, nil // end of candidates
	}
	c := webrtc.ICECandidateInit{
		Candidate:        m.Candidate.Candidate,
		SDPMid:           m.Candidate.SDPMid,
		SDPMLineIndex:    m.Candidate.SDPMLineIndex,
		UsernameFragment: m.Candidate.UsernameFragment,
	}
	return nil, s.p.AddCandidate(target, c)
}

func handlePublish(s *session, m *Message) (*Message, error) {
	if !s.p.Grants().CanPublish {
		return nil, newError(CodeForbidden, "token does not grant canPublish", nil)
	}
	if m.Track == nil {
		return nil, newError(CodeBadRequest, "track missing", nil)
	}
	req, err := trackRequest(m.Track)
	if err != nil {
		return nil, err
	}
	info, err := s.p.Publish(req)
	if err != nil {
		return nil, err
	}
	return &Message{Type: TypePublished, Track: trackInfo(info)}, nil
}

func handleUnpublish(s *session, m *Message) (*Message, error) {
	if err := s.p.Unpublish(m.TrackSID); err != nil {
		return nil, err
	}
	return &Message{Type: TypeOK}, nil
}

func handleMute(s *session, m *Message) (*Message, error) {
	if m.Muted == nil {
		return nil, newError(CodeBadRequest, "muted missing", nil)
	}
	if err := s.p.SetMuted(m.TrackSID, *m.Muted); err != nil {
		return nil, err
	}
	return &Message{Type: TypeOK}, nil
}

func handleSubscribe(s *session, m *Message) (*Message, error) {
	if !s.p.Grants().CanSubscribe {
		return nil, newError(CodeForbidden, "token does not grant canSubscribe", nil)
	}
	if err := s.p.Subscribe(m.TrackSID); err != nil {
		return nil, err
	}
	return &Message{Type: TypeOK}, nil
}

func handleUnsubscribe(s *session, m *Message) (*Message, error) {
	if err := s.p.Unsubscribe(m.TrackSID); err != nil {
		return nil, err
	}
	return &Message{Type: TypeOK}, nil
}

func handleSetVideoSize(s *session, m *Message) (*Message, error) {
	if m.Width < 0 || m.Height < 0 || m.Width > 16384 || m.Height > 16384 {
		return nil, newError(CodeBadRequest, "width and height must be within 0..16384", nil)
	}
	maxLayer := -1
	if m.MaxLayer != nil {
		if *m.MaxLayer < 0 || *m.MaxLayer >= sfu.MaxSpatialLayers {
			return nil, newError(CodeBadRequest, "maxLayer must be 0, 1 or 2", nil)
		}
		maxLayer = *m.MaxLayer
	}
	if err := s.p.SetVideoSize(m.TrackSID, m.Width, m.Height, maxLayer); err != nil {
		return nil, err
	}
	return &Message{Type: TypeOK}, nil
}

func handleLeave(*session, *Message) (*Message, error) { return nil, errLeave }
