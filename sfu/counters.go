package sfu

import "sync/atomic"

// Counters are media counters, node-wide (SFU.Counters) or per room
// (Room.Counters, where only PacketsOut and BytesOut are kept). They are atomics updated on the
// packet path and read by metrics and benchmarks without locks.
type Counters struct {
	PacketsIn      atomic.Uint64
	BytesIn        atomic.Uint64
	PacketsOut     atomic.Uint64
	BytesOut       atomic.Uint64
	PacketsDropped atomic.Uint64
	KeyframeReqs   atomic.Uint64
	PLIsReceived   atomic.Uint64
	NACKsReceived  atomic.Uint64
	PacketsResent  atomic.Uint64 // answers to NACKs, from the layer caches
	LayerSwitches  atomic.Uint64
	WriteErrors    atomic.Uint64
	// Data relay: messages received from clients, sent to receivers,
	// dropped (lossy over budget, slow receivers) and refused with an error.
	DataIn      atomic.Uint64
	DataOut     atomic.Uint64
	DataDropped atomic.Uint64
	DataRefused atomic.Uint64
	// DataRateLimited counts data messages over a sender's byte rate.
	DataRateLimited atomic.Uint64
	// Refusals: joins to a full room, rooms beyond the node's bound,
	// tracks beyond a participant's bound.
	RoomFullRefused atomic.Uint64
	RoomsRefused    atomic.Uint64
	TracksRefused   atomic.Uint64
	// Relays between the nodes of a spanning room: relays open now (a
	// gauge) toward other nodes and from them, and what went out on them.
	RelaysOut       atomic.Int64
	RelaysIn        atomic.Int64
	RelayPacketsOut atomic.Uint64
	RelayBytesOut   atomic.Uint64
}
