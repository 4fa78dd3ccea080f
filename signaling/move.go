package signaling

import "time"

// moveGrace bounds how long a socket told to move may stay open for the
// client to close it after the redirect.
const moveGrace = time.Second

// Redirect sends every participant of room to another node: each socket
// gets a redirect event (no id) with url and reason, then ends normally;
// the participant leaves at once instead of waiting for a resume, since its
// client joins afresh at url (docs/protocol.md, "Moving to another node").
// Participants waiting for a resume leave too. It returns how many
// participants it moved. A draining node calls it for each of its rooms.
func (s *Server) Redirect(room, url, reason string) int {
	s.mu.Lock()
	var in []*attachment
	for _, a := range s.attached {
		if a.claims.Room == room {
			in = append(in, a)
		}
	}
	s.mu.Unlock()
	moved := 0
	for _, a := range in {
		if a.move(url, reason) {
			moved++
		}
	}
	return moved
}

// move tells a's client to join at url and ends its socket; a detached
// participant leaves. It reports whether a was still in its room.
func (a *attachment) move(url, reason string) bool {
	a.mu.Lock()
	if a.removed || a.moved || a.p == nil {
		a.mu.Unlock()
		return false
	}
	a.moved = true
	sess := a.sess
	if sess != nil {
		sess.send(&Message{Type: TypeRedirect, URL: url, Reason: reason})
		sess.finish()
		a.mu.Unlock()
		// A client that does not close its end is cut off.
		go func() {
			t := time.NewTimer(moveGrace)
			defer t.Stop()
			select {
			case <-t.C:
				sess.close()
			case <-sess.done:
			}
		}()
		return true
	}
	a.stopExpiryLocked()
	p := a.p
	a.mu.Unlock()
	a.srv.forget(a)
	p.Leave()
	a.ended()
	return true
}
