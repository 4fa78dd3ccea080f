package whip

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/hibiki-sfu/hibiki/signaling"
)

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// authorize checks the request's bearer token for room and returns who the
// client is. A WHIP encoder (OBS, ffmpeg) is configured with one static
// secret, so a per-room stream key is accepted as well as a join token;
// it publishes under the identity fallback.
func (h *Handler) authorize(r *http.Request, room string, publish bool, fallback string) (sfu.JoinRequest, error) {
	tok, ok := bearer(r)
	if !ok {
		return sfu.JoinRequest{}, refuse(http.StatusUnauthorized, "bearer token required", nil)
	}
	if key, ok := h.cfg.StreamKeys[room]; publish && ok && key != "" &&
		subtle.ConstantTimeCompare([]byte(key), []byte(tok)) == 1 {
		return sfu.JoinRequest{Identity: fallback, Name: fallback, Grants: sfu.Grants{CanPublish: true}}, nil
	}
	claims, err := h.cfg.Verifier.Verify(tok)
	switch {
	case errors.Is(err, signaling.ErrTokenExpired):
		return sfu.JoinRequest{}, refuse(http.StatusUnauthorized, "token expired", err)
	case err != nil:
		return sfu.JoinRequest{}, refuse(http.StatusUnauthorized, "invalid token", err)
	case claims.Room != room:
		return sfu.JoinRequest{}, refuse(http.StatusForbidden, "token is for another room", nil)
	case publish && !claims.Grants.CanPublish:
		return sfu.JoinRequest{}, refuse(http.StatusForbidden, "token does not grant canPublish", nil)
	case !publish && !claims.Grants.CanSubscribe:
		return sfu.JoinRequest{}, refuse(http.StatusForbidden, "token does not grant canSubscribe", nil)
	}
	return sfu.JoinRequest{
		Identity: claims.Identity(),
		Name:     claims.Name,
		// A WHIP client only sends: it has no subscribe connection.
		Grants: sfu.Grants{CanPublish: claims.Grants.CanPublish},
	}, nil
}
