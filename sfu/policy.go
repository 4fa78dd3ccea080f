package sfu

// Policy is per-room connectivity policy set by an operator. The SFU only
// stores it; the connectivity layer reads it when it builds a room's peer
// connections (RelayOnly: offer relay candidates only, for rooms whose
// participants must not learn each other's or the server's host addresses).
type Policy struct {
	RelayOnly bool
}

// Policy returns the room's current policy.
func (r *Room) Policy() Policy {
	if p := r.policy.Load(); p != nil {
		return *p
	}
	return Policy{}
}

// SetPolicy replaces the room's policy. Connections made after the call
// see it; existing ones are not renegotiated.
func (r *Room) SetPolicy(p Policy) { r.policy.Store(&p) }
