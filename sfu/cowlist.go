package sfu

import "sync/atomic"

// The fan-out lists the packet path reads (a track's DownTracks, its
// relays) are copy-on-write: readers load the pointer without a lock,
// writers store a new slice. Writers must hold the lock that orders them.

// cowAdd stores a copy of *p with x appended.
func cowAdd[T comparable](p *atomic.Pointer[[]T], x T) {
	old := *p.Load()
	next := make([]T, len(old), len(old)+1)
	copy(next, old)
	next = append(next, x)
	p.Store(&next)
}

// cowRemove stores a copy of *p without x.
func cowRemove[T comparable](p *atomic.Pointer[[]T], x T) {
	old := *p.Load()
	next := make([]T, 0, len(old))
	for _, y := range old {
		if y != x {
			next = append(next, y)
		}
	}
	p.Store(&next)
}
