package sfu

import "time"

// Timing of the peer-to-peer decision (docs/p2p.md).
const (
	// p2pSettle is how long a pair must have been eligible without a
	// break before it goes direct again after an earlier direct session
	// of the room ended: a third participant who comes and goes does not
	// make the pair flap between the SFU and a direct connection.
	p2pSettle = 5 * time.Second
	// p2pFailBackoff is the wait before a pair whose direct connection
	// failed tries again; it doubles with each failure up to p2pMaxBackoff.
	p2pFailBackoff = 30 * time.Second
	p2pMaxBackoff  = 10 * time.Minute
)

// p2pMember is what the planner needs to know of one participant.
type p2pMember struct {
	SID string
	// Capable: the client said it supports P2P in its join.
	Capable bool
	// RelayOnly: the participant must connect through TURN only.
	RelayOnly bool
}

// p2pView is the room as the planner sees it at one moment.
type p2pView struct {
	Enabled   bool        // the room's P2P setting (server default applied)
	RelayOnly bool        // the room or the whole server is relay-only
	Members   []p2pMember // in join order
}

// p2pPair names two participants; A joined first and offers.
type p2pPair struct{ A, B string }

func (p p2pPair) zero() bool { return p.A == "" }

// has reports whether sid is one of the pair.
func (p p2pPair) has(sid string) bool { return !p.zero() && (p.A == sid || p.B == sid) }

type p2pFail struct {
	count int
	until time.Time
}

// p2pPlanner decides whether a room's two participants should connect
// directly. It holds the hysteresis state and does no I/O: time is passed
// in, so the decision is table-tested without a network.
type p2pPlanner struct {
	settle      time.Duration
	backoff     time.Duration
	maxBackoff  time.Duration
	pair        p2pPair   // the eligible pair being timed
	since       time.Time // when pair became (or last was reset as) eligible
	endedBefore bool      // a direct session of this room has ended
	fails       map[p2pPair]p2pFail
}

func newP2PPlanner() p2pPlanner {
	return p2pPlanner{settle: p2pSettle, backoff: p2pFailBackoff, maxBackoff: p2pMaxBackoff, fails: map[p2pPair]p2pFail{}}
}

// eligible returns the pair the view allows to go direct, or the zero pair
// and the reason it cannot (for p2pEnd).
func (v p2pView) eligible() (p2pPair, string) {
	switch {
	case !v.Enabled:
		return p2pPair{}, P2PEndDisabled
	case v.RelayOnly:
		return p2pPair{}, P2PEndRelayOnly
	case len(v.Members) != 2:
		return p2pPair{}, P2PEndParticipants
	}
	for _, m := range v.Members {
		if !m.Capable || m.RelayOnly {
			return p2pPair{}, P2PEndCapabilities
		}
	}
	return p2pPair{A: v.Members[0].SID, B: v.Members[1].SID}, ""
}

// plan returns the pair that should be connected directly now (ok), or
// else how long until the eligible pair may be (wait > 0), or nothing.
// reason says why no pair is eligible.
func (pl *p2pPlanner) plan(now time.Time, v p2pView) (pair p2pPair, ok bool, wait time.Duration, reason string) {
	pl.forgetAbsent(v)
	pair, reason = v.eligible()
	if pair.zero() {
		pl.pair = p2pPair{}
		return p2pPair{}, false, 0, reason
	}
	if pair != pl.pair {
		pl.pair, pl.since = pair, now
	}
	start := pl.since
	if pl.endedBefore {
		start = pl.since.Add(pl.settle)
	}
	if f, failed := pl.fails[pair]; failed && f.until.After(start) {
		start = f.until
	}
	if now.Before(start) {
		return p2pPair{}, false, start.Sub(now), P2PEndWaiting
	}
	return pair, true, 0, ""
}

// ended records that the direct session of pair ended at now; failed
// (the clients could not connect) delays the pair's next attempt.
func (pl *p2pPlanner) ended(now time.Time, pair p2pPair, failed bool) {
	pl.endedBefore = true
	if pair == pl.pair {
		pl.since = now
	}
	if !failed {
		return
	}
	f := pl.fails[pair]
	d := pl.backoff << min(f.count, 16)
	if d > pl.maxBackoff || d <= 0 {
		d = pl.maxBackoff
	}
	pl.fails[pair] = p2pFail{count: f.count + 1, until: now.Add(d)}
}

// forgetAbsent drops the failure records of pairs someone of which left,
// so the map stays as small as the room.
func (pl *p2pPlanner) forgetAbsent(v p2pView) {
	if len(pl.fails) == 0 {
		return
	}
	present := make(map[string]bool, len(v.Members))
	for _, m := range v.Members {
		present[m.SID] = true
	}
	for p := range pl.fails {
		if !present[p.A] || !present[p.B] {
			delete(pl.fails, p)
		}
	}
}

// Reasons a direct session ends, sent in p2pEnd.
const (
	P2PEndParticipants = "participants" // the room no longer holds exactly two
	P2PEndCapabilities = "capabilities" // a participant cannot do P2P
	P2PEndDisabled     = "disabled"     // P2P was turned off for the room
	P2PEndRelayOnly    = "relay_only"   // the room became relay-only
	P2PEndFailed       = "failed"       // a client reported its direct connection failed
	P2PEndTimeout      = "timeout"      // the pair did not connect in time
	P2PEndWaiting      = "waiting"      // (plan only) eligible, in hysteresis
)
