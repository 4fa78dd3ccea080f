package sfu

// Policy is a room's connectivity policy as an operator sets it (the admin
// API). It gathers the room's settings in one value; today that is
// relay-only, enforced by Room.SetRelayOnly.
type Policy struct {
	// RelayOnly: only TURN-relayed candidate pairs are accepted; see
	// SetRelayOnly for what happens to participants already connected.
	RelayOnly bool
}

// Policy returns the room's own policy (the global rtc relay-only setting
// is not reflected here).
func (r *Room) Policy() Policy { return Policy{RelayOnly: r.RelayOnly()} }

// SetPolicy applies p to the room.
func (r *Room) SetPolicy(p Policy) { r.SetRelayOnly(p.RelayOnly) }
