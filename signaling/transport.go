package signaling

import (
	"errors"
	"fmt"
)

// transport is the I/O of one session: an ordered, message-oriented duplex
// link to one client. The session logic (handlers, attachment, resume) is
// the same for every transport; only how messages move differs. WebSocket
// (HTTP/1.1 upgrade or HTTP/2 extended CONNECT) and HTTP long-poll
// implement it.
type transport interface {
	// read blocks for the next client message. It returns an
	// *oversizeError for a message above limit (the link stays usable)
	// and a *linkEnded when the link is gone.
	read(limit int) ([]byte, error)
	// write hands one server message to the link. Only the session's
	// writer goroutine calls it; it must not block on a slow client for
	// long (WebSocket: a write deadline; long-poll: never).
	write(msg []byte) error
	// keepalive runs on the writer goroutine every PingInterval; an error
	// ends the link (a dead socket, a client that stopped polling).
	keepalive() error
	// finish ends the link normally after the last write (a close frame,
	// or "closed" on the last poll).
	finish()
	// close ends the link at once. Any goroutine may call it, repeatedly.
	close()
	// kind names the transport in logs: websocket, websocket-h2, longpoll.
	kind() string
	// remoteAddr is the client's address, for logs.
	remoteAddr() string
}

// oversizeError reports a client message above the size limit. The session
// answers it with too_large and keeps the link.
type oversizeError struct{ size int64 }

func (e *oversizeError) Error() string { return fmt.Sprintf("message of %d bytes too large", e.size) }

// linkEnded reports that a transport's link is gone and why, which decides
// whether the participant waits for a resume.
type linkEnded struct {
	why ending
	err error
}

func (e *linkEnded) Error() string {
	if e.err == nil {
		return "link ended"
	}
	return "link ended: " + e.err.Error()
}

func (e *linkEnded) Unwrap() error { return e.err }

// errTooSlow ends a link whose client does not take its messages.
var errTooSlow = errors.New("signaling: client too slow")
