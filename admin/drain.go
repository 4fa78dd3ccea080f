package admin

import "net/http"

// startDrain puts the node into draining (docs/cluster.md, "Drain"). It
// answers 202 at once: the participants move and the node deregisters in
// the background. 409 when the node cannot drain (a single node).
func (h *Handler) startDrain(w http.ResponseWriter, _ *http.Request) {
	if err := h.drain(); err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	h.logger.Info("admin: drain requested")
	writeJSON(w, http.StatusAccepted, map[string]bool{"draining": true})
}
