package admin

import (
	"errors"
	"net/http"

	"github.com/hibiki-sfu/hibiki/sfu"
)

// participant finds the {room} and {sid} of the path, or answers 404 and
// returns a nil participant.
func (h *Handler) participant(w http.ResponseWriter, r *http.Request) (*sfu.Room, *sfu.Participant) {
	room := h.room(w, r)
	if room == nil {
		return nil, nil
	}
	p := room.Participant(r.PathValue("sid"))
	if p == nil {
		writeError(w, http.StatusNotFound, "no such participant")
	}
	return room, p
}

// removeParticipant is DELETE /admin/rooms/{room}/participants/{sid}: its
// connections close and the room sees it leave.
func (h *Handler) removeParticipant(w http.ResponseWriter, r *http.Request) {
	room, p := h.participant(w, r)
	if p == nil {
		return
	}
	if p.Remote() {
		writeError(w, http.StatusConflict, "participant is served by node "+p.Origin()+": remove it there")
		return
	}
	p.Remove("removed by an administrator")
	h.logger.Info("admin removed participant", "room", room.Name(), "participant", p.SID())
	writeJSON(w, http.StatusOK, map[string]any{"removed": p.SID()})
}

// subscriptions is GET /admin/rooms/{room}/participants/{sid}/subscriptions:
// what the server forwards to the participant and, for what it does not,
// why (sfu.SubscriptionState).
func (h *Handler) subscriptions(w http.ResponseWriter, r *http.Request) {
	_, p := h.participant(w, r)
	if p == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"participant": p.SID(), "subscriptions": p.SubscriptionStates()})
}

// muteRequest is the body of POST .../tracks/{sid}/mute.
type muteRequest struct {
	Muted *bool `json:"muted"`
}

// muteTrack is POST /admin/rooms/{room}/tracks/{sid}/mute with
// {"muted":true}: the track stops being forwarded and the room is told, as
// when its publisher mutes it.
func (h *Handler) muteTrack(w http.ResponseWriter, r *http.Request) {
	room := h.room(w, r)
	if room == nil {
		return
	}
	var req muteRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Muted == nil {
		writeError(w, http.StatusBadRequest, `body needs "muted": true or false`)
		return
	}
	t := room.Track(r.PathValue("sid"))
	if t == nil {
		writeError(w, http.StatusNotFound, "no such track")
		return
	}
	if o := t.Owner(); o.Remote() {
		writeError(w, http.StatusConflict, "track is published on node "+o.Origin()+": mute it there")
		return
	}
	if err := t.Owner().SetMuted(t.SID(), *req.Muted); err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	h.logger.Info("admin muted track", "room", room.Name(), "track", t.SID(), "muted", *req.Muted)
	writeJSON(w, http.StatusOK, map[string]any{"track": t.SID(), "muted": *req.Muted})
}

func statusOf(err error) int {
	if errors.Is(err, sfu.ErrTrackNotFound) {
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}
