package whip

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hibiki-sfu/hibiki/sfu"
)

// httpError is a refused request: the status RFC 9725 prescribes and a
// short text body saying why. err, when set, is logged, never sent.
type httpError struct {
	status int
	msg    string
	err    error
}

func (e *httpError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%d %s: %v", e.status, e.msg, e.err)
	}
	return fmt.Sprintf("%d %s", e.status, e.msg)
}

func (e *httpError) Unwrap() error { return e.err }

func refuse(status int, msg string, err error) *httpError {
	return &httpError{status: status, msg: msg, err: err}
}

// sfuError maps an SFU refusal to its HTTP status.
func sfuError(err error) *httpError {
	switch {
	case errors.Is(err, sfu.ErrBadSDP), errors.Is(err, sfu.ErrBadCandidate):
		return refuse(http.StatusBadRequest, "invalid offer or candidate", err)
	case errors.Is(err, sfu.ErrNoMedia):
		return refuse(http.StatusUnprocessableEntity, "no usable media in the offer", err)
	case errors.Is(err, sfu.ErrRoomNotFound):
		return refuse(http.StatusNotFound, "no such room", err)
	case errors.Is(err, sfu.ErrNotFound), errors.Is(err, sfu.ErrTrackNotFound):
		return refuse(http.StatusNotFound, "no such publisher, or it has no media", err)
	case errors.Is(err, sfu.ErrRoomFull):
		return refuse(http.StatusServiceUnavailable, "room is full", err)
	case errors.Is(err, sfu.ErrClosed):
		return refuse(http.StatusServiceUnavailable, "server shutting down", err)
	default:
		return refuse(http.StatusInternalServerError, "internal error", err)
	}
}

// fail writes err as a plain-text response and reports it.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, door string, err error) {
	var e *httpError
	if !errors.As(err, &e) {
		e = refuse(http.StatusInternalServerError, "internal error", err)
	}
	h.logger.Debug("request refused", "door", door, "method", r.Method, "path", r.URL.Path, "status", e.status, "err", e)
	if f := h.cfg.OnError; f != nil {
		f(door, e.status)
	}
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(e.msg + "\n"))
}
