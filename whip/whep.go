package whip

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/hibiki-sfu/hibiki/sfu"
)

// view is POST /whep/{room}[/{participant}]: play one publisher's tracks.
// Without a participant the room's first publisher is played. The session
// URL names the publisher by SID, so it stays valid whatever the client
// named it by.
func (h *Handler) view(w http.ResponseWriter, r *http.Request) {
	h.cors(w)
	start := time.Now()
	room := r.PathValue("room")
	req, err := h.authorize(r, room, false, "")
	if err != nil {
		h.fail(w, r, DoorWHEP, err)
		return
	}
	if h.elsewhere(w, r, DoorWHEP, room) {
		return
	}
	offer, err := h.offer(w, r, "recvonly")
	if err != nil {
		h.fail(w, r, DoorWHEP, err)
		return
	}
	s := &session{h: h, id: newSessionID(), door: DoorWHEP, room: room, etag: newETag()}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.GatherTimeout)
	defer cancel()
	v, answer, err := h.sfu.View(ctx, sfu.ViewRequest{
		Room: room, Publisher: r.PathValue("participant"), Offer: offer,
		// The viewer ends by itself when its connection fails or its
		// publisher's tracks end; the session then goes too. end does not
		// block: the viewer it would close is already closed.
		OnClose: func() { s.end("viewer ended") },
	})
	if err != nil {
		h.fail(w, r, DoorWHEP, sfuError(err))
		return
	}
	s.publisher = v.Publisher().SID()
	s.mu.Lock()
	s.v = v
	s.mu.Unlock()
	if !h.add(s) {
		v.Close()
		h.fail(w, r, DoorWHEP, sfuError(sfu.ErrClosed))
		return
	}
	h.logger.Info("whep session started", "room", room, "session", s.id, "publisher", s.publisher, "viewer", v.SID())
	h.created(w, "/whep/"+url.PathEscape(room)+"/"+s.publisher+"/"+s.id, s.etagValue(), answer, h.iceServers(room, req.Identity))
	if f := h.cfg.OnJoin; f != nil {
		f(DoorWHEP, time.Since(start))
	}
}
