// Package whip serves the standard HTTP doors into hibiki rooms: WHIP
// (RFC 9725) for publishers such as OBS, ffmpeg or a browser page, and
// WHEP for receive-only players. Each POST makes one session; its URL
// (the Location header) takes PATCH (trickle ICE, ICE restart) and DELETE.
// A WHIP publisher is a room participant like any other; a WHEP viewer is
// an sfu.Viewer, which the room does not see.
package whip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hibiki-sfu/hibiki/sfu"
	"github.com/hibiki-sfu/hibiki/signaling"
	"github.com/pion/webrtc/v4"
)

// Doors, as passed to the metrics hooks.
const (
	DoorWHIP = "whip"
	DoorWHEP = "whep"
)

// Config configures the doors.
type Config struct {
	// Verifier checks join tokens. Required.
	Verifier signaling.Verifier
	// StreamKeys maps a room to a static key a WHIP encoder may use as its
	// bearer token instead of a join token.
	StreamKeys map[string]string
	// ICEServersFor, when set, returns the ICE servers announced in the
	// Link headers of a 201, per room and client identity, so that TURN
	// credentials are minted per session.
	ICEServersFor func(room, identity string) []webrtc.ICEServer
	// GatherTimeout bounds how long an answer waits for the server's ICE
	// candidates. Default 2 s.
	GatherTimeout time.Duration
	// AllowOrigin is the CORS Access-Control-Allow-Origin. Default "*":
	// tokens, not origins, are the access control.
	AllowOrigin string
	// MaxBodySize bounds offers and fragments. Default 128 KiB.
	MaxBodySize int64
	// Logger receives structured logs; never the tokens.
	Logger *slog.Logger
	// OnJoin, when set, gets the time a successful POST took.
	OnJoin func(door string, d time.Duration)
	// OnError, when set, gets the status of every refused request.
	OnError func(door string, status int)
	// Locate, when set (a node of a cluster, docs/cluster.md), is asked on
	// every POST where its room is served, after the token is checked so
	// that no stranger makes the cluster place rooms. "" means here;
	// otherwise it returns the base URL (scheme://host:port) of the node
	// serving the room, and the POST is redirected there. An error means
	// the room cannot be placed now (Redis is unreachable): 503.
	Locate func(ctx context.Context, room string) (base string, err error)
}

// Handler serves /whip/ and /whep/. It is an http.Handler.
type Handler struct {
	sfu    *sfu.SFU
	cfg    Config
	logger *slog.Logger
	mux    *http.ServeMux

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool
	wg       sync.WaitGroup
}

// New returns the doors in front of s.
func New(s *sfu.SFU, cfg Config) *Handler {
	if cfg.GatherTimeout <= 0 {
		cfg.GatherTimeout = 2 * time.Second
	}
	if cfg.AllowOrigin == "" {
		cfg.AllowOrigin = "*"
	}
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = 128 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{sfu: s, cfg: cfg, logger: cfg.Logger, mux: http.NewServeMux(), sessions: make(map[string]*session)}
	h.mux.HandleFunc("POST /whip/{room}", h.publish)
	h.mux.HandleFunc("PATCH /whip/{room}/{session}", h.patch)
	h.mux.HandleFunc("DELETE /whip/{room}/{session}", h.delete)
	h.mux.HandleFunc("OPTIONS /whip/", h.preflight)
	h.mux.HandleFunc("POST /whep/{room}", h.view)
	h.mux.HandleFunc("POST /whep/{room}/{participant}", h.view)
	h.mux.HandleFunc("PATCH /whep/{room}/{participant}/{session}", h.patch)
	h.mux.HandleFunc("DELETE /whep/{room}/{participant}/{session}", h.delete)
	h.mux.HandleFunc("OPTIONS /whep/", h.preflight)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// publish is POST /whip/{room}: join the room as a publisher.
func (h *Handler) publish(w http.ResponseWriter, r *http.Request) {
	h.cors(w)
	start := time.Now()
	room := r.PathValue("room")
	id := newSessionID()
	req, err := h.authorize(r, room, true, "whip-"+id[:8])
	if err != nil {
		h.fail(w, r, DoorWHIP, err)
		return
	}
	if h.elsewhere(w, r, DoorWHIP, room) {
		return
	}
	offer, err := h.offer(w, r, "sendonly")
	if err != nil {
		h.fail(w, r, DoorWHIP, err)
		return
	}
	s := &session{h: h, id: id, door: DoorWHIP, room: room, etag: newETag()}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.GatherTimeout)
	defer cancel()
	p, answer, err := h.sfu.JoinWithOffer(ctx, room, req, s, offer)
	if err != nil {
		h.fail(w, r, DoorWHIP, sfuError(err))
		return
	}
	s.setParticipant(p)
	location := "/whip/" + url.PathEscape(room) + "/" + id
	if !h.add(s) {
		p.Leave()
		h.fail(w, r, DoorWHIP, sfuError(sfu.ErrClosed))
		return
	}
	h.logger.Info("whip session started", "room", room, "session", id, "participant", p.SID(), "identity", p.Identity())
	h.created(w, location, s.etagValue(), answer, h.iceServers(room, req.Identity))
	if f := h.cfg.OnJoin; f != nil {
		f(DoorWHIP, time.Since(start))
	}
}

// offer reads and checks the SDP offer of a POST.
func (h *Handler) offer(w http.ResponseWriter, r *http.Request, dir string) (string, error) {
	offer, err := readBody(w, r, typeSDP, h.cfg.MaxBodySize)
	if err != nil {
		return "", err
	}
	return offer, checkOffer(offer, dir)
}

func (h *Handler) iceServers(room, identity string) []webrtc.ICEServer {
	if h.cfg.ICEServersFor == nil {
		return nil
	}
	return h.cfg.ICEServersFor(room, identity)
}

// created writes a 201 with the answer and the session's headers.
func (h *Handler) created(w http.ResponseWriter, location, etag, answer string, ice []webrtc.ICEServer) {
	hd := w.Header()
	hd.Set("Content-Type", typeSDP)
	hd.Set("Location", location)
	hd.Set("ETag", etag)
	hd.Set("Accept-Patch", typeSDPFrag)
	for _, l := range iceLinks(ice) {
		hd.Add("Link", l)
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(answer))
}

// add registers a session; false once the handler is closing.
func (h *Handler) add(s *session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.sessions[s.id] = s
	return true
}

func (h *Handler) forget(s *session) {
	h.mu.Lock()
	if h.sessions[s.id] == s {
		delete(h.sessions, s.id)
	}
	h.mu.Unlock()
}

// lookup finds the session a PATCH or DELETE names; the room (and for
// WHEP the participant) in the path must be the session's own.
func (h *Handler) lookup(r *http.Request) (*session, error) {
	door := DoorWHIP
	if strings.HasPrefix(r.URL.Path, "/whep/") {
		door = DoorWHEP
	}
	h.mu.Lock()
	s, ok := h.sessions[r.PathValue("session")]
	h.mu.Unlock()
	if !ok || s.door != door || s.room != r.PathValue("room") ||
		(door == DoorWHEP && s.publisher != r.PathValue("participant")) {
		return nil, refuse(http.StatusNotFound, "no such session", nil)
	}
	return s, nil
}

// goroutine runs f tracked by Close, unless the handler is closing (Close
// then ends every session itself).
func (h *Handler) goroutine(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
}

// Sessions returns the number of live sessions of each door.
func (h *Handler) Sessions() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{DoorWHIP: 0, DoorWHEP: 0}
	for _, s := range h.sessions {
		out[s.door]++
	}
	return out
}

// Close ends every session and waits for the goroutines ending them.
func (h *Handler) Close() {
	h.mu.Lock()
	h.closed = true
	all := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		all = append(all, s)
	}
	h.mu.Unlock()
	for _, s := range all {
		s.end("server shutting down")
	}
	h.wg.Wait()
}

// newSessionID returns 128 random bits: the session URL is the capability
// to PATCH or DELETE it, so it must not be guessable.
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}

func newETag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return `"` + hex.EncodeToString(b[:]) + `"`
}
