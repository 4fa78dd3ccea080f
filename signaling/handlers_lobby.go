package signaling

import "github.com/hibiki-sfu/hibiki/sfu"

// Handlers of lobby sockets: a socket that sent "lobby" instead of "join"
// shows presence and carries invites; it never holds a media participant.

func inLobby(h handler) handler {
	return func(s *session, m *Message) (*Message, error) {
		if s.member == nil {
			return nil, newError(CodeNotJoined, "enter the lobby first", nil)
		}
		return h(s, m)
	}
}

func handleLobby(s *session, m *Message) (*Message, error) {
	if s.p != nil || s.member != nil {
		return nil, newError(CodeBadRequest, "already joined", nil)
	}
	if m.Token == "" {
		return nil, newError(CodeBadToken, "token missing", nil)
	}
	claims, err := s.srv.cfg.Verifier.Verify(m.Token)
	if err != nil {
		return nil, toError(err)
	}
	if claims.Room != s.srv.lobby.cfg.Room {
		return nil, newError(CodeForbidden, "token is not for the lobby", nil)
	}
	mem := &member{sess: s, identity: claims.Identity(), name: claims.Name, grants: claims.Grants}
	self, others, replaced := s.srv.lobby.enter(mem)
	s.member, s.claims = mem, claims
	s.logger = s.logger.With("lobby", mem.identity)
	if replaced != nil {
		replaced.sess.Notify(sfu.Removed{Reason: "the same identity entered the lobby again"})
	}
	if others == nil {
		others = []PresenceUser{}
	}
	return &Message{Type: TypeLobbyJoined, User: &self, Users: others}, nil
}

func handleInvite(s *session, m *Message) (*Message, error) {
	if m.Identity == "" || !validText(m.Identity) {
		return nil, newError(CodeBadRequest, "identity missing or too long", nil)
	}
	id, err := s.srv.lobby.invite(s.member, m.Identity)
	if err != nil {
		return nil, err
	}
	return &Message{Type: TypeOK, InviteID: id}, nil
}

func handleAnswerInvite(s *session, m *Message) (*Message, error) {
	if m.InviteID == "" || m.Accept == nil {
		return nil, newError(CodeBadRequest, "inviteId and accept are required", nil)
	}
	if err := s.srv.lobby.answer(m.InviteID, s.member, *m.Accept); err != nil {
		return nil, err
	}
	return &Message{Type: TypeOK, InviteID: m.InviteID}, nil
}

func handleCancelInvite(s *session, m *Message) (*Message, error) {
	if err := s.srv.lobby.end(m.InviteID, s.member, ReasonCancelled); err != nil {
		return nil, err
	}
	return &Message{Type: TypeOK, InviteID: m.InviteID}, nil
}
