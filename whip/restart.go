package whip

import (
	"context"
	"net/http"

	"github.com/hibiki-sfu/hibiki/sfu"
)

// remoteUfrag is the client's current ICE username fragment; a PATCH
// carrying another one asks for an ICE restart.
func (s *session) remoteUfrag() string {
	s.mu.Lock()
	p, v := s.p, s.v
	s.mu.Unlock()
	if p != nil {
		return p.PublishICE().Ufrag
	}
	return v.RemoteICE().Ufrag
}

// restart performs an ICE restart (RFC 9725 section 4.4) and answers 200
// with the server's new credentials and candidates and a new ETag.
func (h *Handler) restart(w http.ResponseWriter, r *http.Request, s *session, frag sdpFrag) {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.GatherTimeout)
	defer cancel()
	s.mu.Lock()
	p, v := s.p, s.v
	s.mu.Unlock()
	var (
		local sfu.ICEParams
		err   error
	)
	if p != nil {
		local, err = p.RestartPublishICE(ctx, frag.Ufrag, frag.Pwd)
	} else {
		local, err = v.RestartICE(ctx, frag.Ufrag, frag.Pwd)
	}
	if err != nil {
		h.fail(w, r, s.door, sfuError(err))
		return
	}
	for _, c := range frag.candidates() {
		if err := s.addCandidate(c); err != nil {
			h.fail(w, r, s.door, sfuError(err))
			return
		}
	}
	etag := newETag()
	s.mu.Lock()
	s.etag = etag
	s.mu.Unlock()
	answer := sdpFrag{Ufrag: local.Ufrag, Pwd: local.Pwd, Mid: local.Mid, Candidates: local.Candidates, End: true}
	w.Header().Set("Content-Type", typeSDPFrag)
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(answer.String()))
}
