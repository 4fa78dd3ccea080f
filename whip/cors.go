package whip

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/pion/webrtc/v4"
)

// cors adds the headers a browser page on another origin needs to use the
// endpoints and read Location, ETag and Link from the responses.
func (h *Handler) cors(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", h.cfg.AllowOrigin)
	hd.Set("Access-Control-Expose-Headers", "Location, ETag, Link, Accept-Patch, Accept-Post")
}

// preflight answers OPTIONS: CORS preflight, and the media types the
// endpoint takes (Accept-Post, RFC 9725 section 4.2).
func (h *Handler) preflight(w http.ResponseWriter, _ *http.Request) {
	h.cors(w)
	hd := w.Header()
	hd.Set("Access-Control-Allow-Methods", "POST, PATCH, DELETE, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	hd.Set("Access-Control-Max-Age", "86400")
	hd.Set("Accept-Post", "application/sdp")
	hd.Set("Accept-Patch", "application/trickle-ice-sdpfrag")
	w.WriteHeader(http.StatusNoContent)
}

// iceLinks renders the configured ICE servers as RFC 9725 Link headers:
// `<stun:host:port>; rel="ice-server"`, with credentials for TURN.
func iceLinks(servers []webrtc.ICEServer) []string {
	var out []string
	for _, s := range servers {
		for _, u := range s.URLs {
			link := fmt.Sprintf("<%s>; rel=\"ice-server\"", u)
			cred, _ := s.Credential.(string)
			if s.Username != "" && (strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:")) {
				link += fmt.Sprintf("; username=%q; credential=%q; credential-type=\"password\"", s.Username, cred)
			}
			out = append(out, link)
		}
	}
	return out
}
