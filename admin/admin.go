// Package admin is the operator's HTTP API: list rooms and participants,
// remove a participant, mute a track, close a room, set a room's policy.
// Every request needs "Authorization: Bearer <admin key>"; the key is not a
// join token and grants everything, so the API exists only when one is
// configured. Bodies and replies are JSON; docs/admin.md has examples.
package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/hibiki-sfu/hibiki/sfu"
)

// maxBody bounds request bodies; the largest valid one is a few bytes.
const maxBody = 4 << 10

// Handler serves /admin/. It is an http.Handler.
type Handler struct {
	sfu    *sfu.SFU
	key    []byte
	logger *slog.Logger
	mux    *http.ServeMux
	drain  func() error // nil: POST /admin/drain is 404
	// storePolicy keeps a room's policy beyond this node (a cluster).
	storePolicy func(ctx context.Context, room string, p sfu.Policy) error
}

// Option configures a Handler.
type Option func(*Handler)

// WithDrain serves POST /admin/drain, which calls start: it must put the
// node into draining and return at once (the drain runs on). The admin
// package knows no cluster; the server wires its own drain in.
func WithDrain(start func() error) Option { return func(h *Handler) { h.drain = start } }

// WithPolicyStore has every policy set through PUT .../policy also stored
// by store, which in a cluster keeps it in Redis: the room keeps its policy
// when it moves to another node, and every node serving a part of it
// applies it.
func WithPolicyStore(store func(ctx context.Context, room string, p sfu.Policy) error) Option {
	return func(h *Handler) { h.storePolicy = store }
}

// New returns the admin API for s, guarded by key (must not be empty).
func New(s *sfu.SFU, key string, logger *slog.Logger, opts ...Option) *Handler {
	if logger == nil {
		logger = slog.Default()
	}
	h := &Handler{sfu: s, key: []byte(key), logger: logger, mux: http.NewServeMux()}
	for _, o := range opts {
		o(h)
	}
	if h.drain != nil {
		h.mux.HandleFunc("POST /admin/drain", h.startDrain)
	}
	h.mux.HandleFunc("GET /admin/rooms", h.listRooms)
	h.mux.HandleFunc("GET /admin/rooms/{room}", h.getRoom)
	h.mux.HandleFunc("DELETE /admin/rooms/{room}", h.closeRoom)
	h.mux.HandleFunc("PUT /admin/rooms/{room}/policy", h.setPolicy)
	h.mux.HandleFunc("DELETE /admin/rooms/{room}/participants/{sid}", h.removeParticipant)
	h.mux.HandleFunc("GET /admin/rooms/{room}/participants/{sid}/subscriptions", h.subscriptions)
	h.mux.HandleFunc("POST /admin/rooms/{room}/tracks/{sid}/mute", h.muteTrack)
	return h
}

// ServeHTTP checks the admin key, then dispatches.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") ||
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), h.key) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hibiki admin"`)
		writeError(w, http.StatusUnauthorized, "admin key required")
		return
	}
	h.mux.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// decode reads a small JSON body into v, refusing unknown fields so a typo
// ("mute" for "muted") is an error, not a silent no-op.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// room finds the room named in the path or answers 404.
func (h *Handler) room(w http.ResponseWriter, r *http.Request) *sfu.Room {
	room := h.sfu.Room(r.PathValue("room"))
	if room == nil {
		writeError(w, http.StatusNotFound, "no such room")
	}
	return room
}
