package whip

import (
	"net/http"
	"strings"
)

// elsewhere sends a POST for a room that another node of the cluster
// serves on to that node, and reports whether it answered the request
// (with the redirect, or with 503 when the room cannot be placed now).
// 307, unlike 302 and 303, obliges the client to repeat the POST with its
// method and body, so the offer reaches the serving node unchanged: OBS,
// GStreamer's whipsink and browsers follow it. The CORS headers set by the
// caller stay on the redirect, or a page on another origin could not
// follow it.
func (h *Handler) elsewhere(w http.ResponseWriter, r *http.Request, door, room string) bool {
	if h.cfg.Locate == nil {
		return false
	}
	base, err := h.cfg.Locate(r.Context(), room)
	if err != nil {
		h.fail(w, r, door, refuse(http.StatusServiceUnavailable, "room cannot be placed now; retry", err))
		return true
	}
	if base == "" {
		return false
	}
	target := strings.TrimSuffix(base, "/") + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	h.logger.Debug("redirecting to the serving node", "door", door, "room", room, "location", target)
	hd := w.Header()
	hd.Set("Location", target)
	hd.Set("Cache-Control", "no-store") // the room may move when it closes
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusTemporaryRedirect)
	_, _ = w.Write([]byte("room is served at " + target + "\n"))
	return true
}
