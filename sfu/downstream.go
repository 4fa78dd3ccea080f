package sfu

import "log/slog"

// downstream is the connection a DownTrack writes into: a participant's
// subscribe connection, or a WHEP viewer's only connection. A DownTrack
// needs to know when it may write (pion silently drops what is written
// before DTLS is up) and whom to tell when its published track goes away.
type downstream interface {
	// mediaReady reports that the connection's DTLS is up.
	mediaReady() bool
	// dropSubscription forgets d; its track has closed or unsubscribed it.
	dropSubscription(d *DownTrack)
	// notify tells the subscriber about its subscription (paused, ...).
	notify(ev Event)
	log() *slog.Logger
	// reallocate asks the connection's bandwidth allocator, if it has
	// one, for a new allocation round (a tile size changed).
	reallocate()
	// allowResend reports whether a retransmission of n bytes (of a
	// keyframe when key) fits the connection's retransmission budget now,
	// and takes it if so.
	allowResend(n int, key bool) bool
}

func (p *Participant) mediaReady() bool { return p.subReady.Load() }

func (p *Participant) log() *slog.Logger { return p.logger }
