package admin

import (
	"net/http"
	"sort"

	"github.com/hibiki-sfu/hibiki/sfu"
)

// listRooms is GET /admin/rooms.
func (h *Handler) listRooms(w http.ResponseWriter, _ *http.Request) {
	rooms := h.sfu.Rooms()
	out := make([]RoomSummary, 0, len(rooms))
	for _, r := range rooms {
		out = append(out, summary(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, map[string]any{"rooms": out})
}

// getRoom is GET /admin/rooms/{room}.
func (h *Handler) getRoom(w http.ResponseWriter, r *http.Request) {
	if room := h.room(w, r); room != nil {
		writeJSON(w, http.StatusOK, roomView(room))
	}
}

// closeRoom is DELETE /admin/rooms/{room}: everyone is removed (clients
// are told why) and the room is forgotten.
func (h *Handler) closeRoom(w http.ResponseWriter, r *http.Request) {
	room := h.room(w, r)
	if room == nil {
		return
	}
	room.Close("room closed by an administrator")
	h.logger.Info("admin closed room", "room", room.Name())
	writeJSON(w, http.StatusOK, map[string]any{"closed": room.Name()})
}

// setPolicy is PUT /admin/rooms/{room}/policy with {"relayOnly":true}.
func (h *Handler) setPolicy(w http.ResponseWriter, r *http.Request) {
	room := h.room(w, r)
	if room == nil {
		return
	}
	var p Policy
	if !decode(w, r, &p) {
		return
	}
	room.SetPolicy(sfu.Policy(p))
	h.logger.Info("admin set room policy", "room", room.Name(), "relayOnly", p.RelayOnly)
	if h.storePolicy != nil {
		if err := h.storePolicy(r.Context(), room.Name(), sfu.Policy(p)); err != nil {
			h.logger.Warn("room policy not stored in the cluster", "room", room.Name(), "err", err)
			writeError(w, http.StatusServiceUnavailable, "policy applied on this node but not stored in the cluster: "+err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, p)
}
