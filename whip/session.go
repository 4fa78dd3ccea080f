package whip

import (
	"net/http"
	"sync"

	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/pion/webrtc/v4"
)

// session is one WHIP publisher or WHEP viewer, named by its URL.
type session struct {
	h         *Handler
	id        string
	door      string
	room      string
	publisher string // WHEP: the participant SID in the session URL

	mu     sync.Mutex
	p      *sfu.Participant // WHIP
	v      *sfu.Viewer      // WHEP
	etag   string
	ended  bool
	reason string
}

func (s *session) setParticipant(p *sfu.Participant) {
	s.mu.Lock()
	s.p = p
	ended := s.ended
	s.mu.Unlock()
	if ended {
		p.Leave() // removed before JoinWithOffer even returned
	}
}

func (s *session) etagValue() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.etag
}

// Notify implements sfu.Notifier for a WHIP participant. It never blocks:
// ending a session closes peer connections, so that runs on its own
// goroutine.
func (s *session) Notify(ev sfu.Event) {
	switch e := ev.(type) {
	case sfu.Removed:
		s.h.goroutine(func() { s.end(e.Reason) })
	case sfu.PeerStateChanged:
		if e.Target == sfu.TargetPublish &&
			(e.State == webrtc.PeerConnectionStateFailed || e.State == webrtc.PeerConnectionStateClosed) {
			s.h.goroutine(func() { s.end("connection " + e.State.String()) })
		}
	}
}

// end forgets the session and makes its participant leave (or its viewer
// stop). It is idempotent.
func (s *session) end(reason string) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended, s.reason = true, reason
	p, v := s.p, s.v
	s.mu.Unlock()
	s.h.forget(s)
	if p != nil {
		p.Leave()
	}
	if v != nil {
		v.Close()
	}
	s.h.logger.Info("session ended", "door", s.door, "room", s.room, "session", s.id, "reason", reason)
}

// delete is DELETE on a session URL: the client hangs up.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	h.cors(w)
	s, err := h.lookup(r)
	if err != nil {
		h.fail(w, r, doorOf(r), err)
		return
	}
	s.end("client hung up")
	w.WriteHeader(http.StatusOK)
}

// patch is PATCH on a session URL: trickled candidates (204) or, when the
// fragment carries new ICE credentials, an ICE restart (200 with the
// server's new credentials and candidates).
func (h *Handler) patch(w http.ResponseWriter, r *http.Request) {
	h.cors(w)
	door := doorOf(r)
	s, err := h.lookup(r)
	if err != nil {
		h.fail(w, r, door, err)
		return
	}
	body, err := readBody(w, r, typeSDPFrag, h.cfg.MaxBodySize)
	if err != nil {
		h.fail(w, r, door, err)
		return
	}
	frag, err := parseSDPFrag(body)
	if err != nil {
		h.fail(w, r, door, err)
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != s.etagValue() {
		h.fail(w, r, door, refuse(http.StatusPreconditionFailed, "ETag does not match the session", nil))
		return
	}
	if frag.Ufrag != "" && frag.Ufrag != s.remoteUfrag() {
		h.restart(w, r, s, frag)
		return
	}
	for _, c := range frag.candidates() {
		if err := s.addCandidate(c); err != nil {
			h.fail(w, r, door, sfuError(err))
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *session) addCandidate(c webrtc.ICECandidateInit) error {
	s.mu.Lock()
	p, v := s.p, s.v
	s.mu.Unlock()
	if p != nil {
		return p.AddCandidate(sfu.TargetPublish, c)
	}
	return v.AddCandidate(c)
}

func doorOf(r *http.Request) string {
	if len(r.URL.Path) > 5 && r.URL.Path[:6] == "/whep/" {
		return DoorWHEP
	}
	return DoorWHIP
}
