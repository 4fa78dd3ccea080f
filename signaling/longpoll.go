package signaling

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// lpLinger is how long an ended long-poll session keeps its last messages
// (the reply to leave, a removed notice) for the client's final poll.
const lpLinger = 10 * time.Second

// LongPoll is the HTTP long-poll transport of the signaling protocol, for
// clients that cannot open a WebSocket (proxies that refuse Upgrade):
//
//	POST   /lp                 open a session (and send messages)
//	POST   /lp?session=ID      send messages
//	GET    /lp?session=ID&ack=N[&wait=S]  receive messages after N
//	DELETE /lp?session=ID      end the session normally (as close 1000)
//
// docs/protocol.md has the bodies and the seq/ack rules.
type LongPoll struct{ srv *Server }

// LongPoll returns the long-poll handler; mount it next to the WebSocket
// endpoint (hibiki serves it at /lp).
func (s *Server) LongPoll() *LongPoll { return &LongPoll{srv: s} }

// ServeHTTP implements http.Handler.
func (h *LongPoll) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !h.srv.upgrader.CheckOrigin(r) {
		writeHTTPError(w, http.StatusForbidden, newError(CodeForbidden, "origin not allowed", nil))
		return
	}
	switch r.Method {
	case http.MethodPost:
		h.send(w, r)
	case http.MethodGet:
		h.poll(w, r)
	case http.MethodDelete:
		h.end(w, r)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeHTTPError(w, http.StatusMethodNotAllowed, newError(CodeBadRequest, "method not allowed", nil))
	}
}

// session finds the request's session; it answers the error itself.
func (h *LongPoll) session(w http.ResponseWriter, r *http.Request) *lpTransport {
	id := r.URL.Query().Get("session")
	if id == "" {
		writeHTTPError(w, http.StatusBadRequest, newError(CodeBadRequest, "session missing: open one with POST first", nil))
		return nil
	}
	t := h.srv.lookupPoll(id)
	if t == nil {
		writeHTTPError(w, http.StatusNotFound, newError(CodeNotFound, "unknown session", nil))
	}
	return t
}

func (h *LongPoll) send(w http.ResponseWriter, r *http.Request) {
	limit := int64(h.srv.cfg.MaxMessageSize * hardLimitFactor)
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeHTTPError(w, http.StatusRequestEntityTooLarge, newError(CodeTooLarge, "body exceeds the size limit", ErrMessageTooLarge))
		return
	}
	if err != nil {
		return // the client went away
	}
	var body *lpSendBody
	if len(data) > 0 {
		if body, err = parseSendBody(data, lpInQueue); err != nil {
			writeHTTPError(w, statusOf(err), toError(err))
			return
		}
	} else {
		body = &lpSendBody{}
	}
	reply := lpSendReply{}
	var t *lpTransport
	if r.URL.Query().Get("session") == "" {
		if t = h.open(r); t == nil {
			writeHTTPError(w, http.StatusServiceUnavailable, newError(CodeInternal, "server closing", nil))
			return
		}
		reply.Session = t.id
	} else if t = h.session(w, r); t == nil {
		return
	}
	reply.Ack, err = t.accept(body.Messages)
	if err != nil {
		e := toError(err)
		writeHTTPErrorAck(w, statusOf(err), e, reply.Ack)
		return
	}
	writeJSON(w, http.StatusOK, &reply)
}

// open starts a session on a new long-poll link.
func (h *LongPoll) open(r *http.Request) *lpTransport {
	t := newLPTransport(newPollID(), r.RemoteAddr, h.srv.cfg.PongTimeout)
	if !h.srv.registerPoll(t) {
		return nil
	}
	if h.srv.start(t) == nil {
		return nil
	}
	return t
}

func (h *LongPoll) poll(w http.ResponseWriter, r *http.Request) {
	q, err := parsePollQuery(r.URL.Query())
	if err != nil {
		writeHTTPError(w, http.StatusBadRequest, toError(err))
		return
	}
	t := h.session(w, r)
	if t == nil {
		return
	}
	msgs, closed, err := t.poll(r.Context(), q.ack, q.wait)
	if err != nil {
		writeHTTPError(w, statusOf(err), toError(err))
		return
	}
	if closed && len(msgs) == 0 {
		h.srv.forgetPoll(t) // everything delivered: nothing left to linger for
	}
	if msgs == nil {
		msgs = []lpEnvelope{}
	}
	writeJSON(w, http.StatusOK, &lpPollReply{Messages: msgs, Closed: closed})
}

func (h *LongPoll) end(w http.ResponseWriter, r *http.Request) {
	t := h.session(w, r)
	if t == nil {
		return
	}
	t.closeByClient()
	w.WriteHeader(http.StatusNoContent)
}

// newPollID returns an unguessable session id: whoever holds it speaks
// for the participant, as whoever holds a socket does.
func newPollID() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// statusOf maps long-poll errors to HTTP statuses.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrQueueFull):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrLinkClosed):
		return http.StatusGone
	case errors.Is(err, ErrMessageTooLarge):
		return http.StatusRequestEntityTooLarge
	}
	var e *Error
	if errors.As(err, &e) && e.Code == CodeTooLarge {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeHTTPError answers with status and the protocol's error message.
func writeHTTPError(w http.ResponseWriter, status int, e *Error) {
	writeJSON(w, status, &lpErrorBody{Type: TypeError, Code: e.Code, Message: e.Message})
}

func writeHTTPErrorAck(w http.ResponseWriter, status int, e *Error, ack uint64) {
	writeJSON(w, status, &lpErrorBody{Type: TypeError, Code: e.Code, Message: e.Message, Ack: &ack})
}
