// @ts-check
// Types of the public API of hibiki.js that are not classes: the options of
// Room.connect and the events of room.on. Only JSDoc; nothing runs here.

/** @typedef {import('./remote.js').RemoteParticipant} RemoteParticipant */
/** @typedef {import('./remote.js').RemoteTrack} RemoteTrack */
/** @typedef {import('./local.js').LocalTrack} LocalTrack */
/** @typedef {import('./stats.js').LiveStats} LiveStats */

/** @typedef {'connecting' | 'connected' | 'reconnecting' | 'disconnected'} ConnectionState */

/**
 * @typedef {object} RoomOptions
 * @property {boolean} [autoSubscribe] subscribe to every track (default true)
 * @property {boolean} [reconnect] re-join with backoff when the socket drops (default true)
 * @property {number} [maxReconnectDelayMs] cap of the backoff (default 8000)
 * @property {() => Promise<string>} [refreshToken] called before each re-join for a fresh token
 *   (default: the token given to connect)
 * @property {number} [statsIntervalMs] period of the `stats` event (default 500)
 * @property {number} [levelIntervalMs] how often audio levels are read for `audioLevels` (default 100)
 * @property {number} [speakingThreshold] audio level (0..1) above which someone speaks, for servers
 *   that send no `activeSpeakers` (default 0.02)
 * @property {RTCIceServer[]} [iceServers] override the servers the `joined` reply names
 * @property {RTCIceTransportPolicy} [iceTransportPolicy] 'relay' forces TURN; the server's
 *   `iceTransportPolicy: "relay"` applies whatever this says
 * @property {boolean} [p2p] let two-party calls go peer to peer when the server offers it (default true)
 * @property {AudioContext} [audioContext] measure the local microphone's level (and, for servers
 *   that send no `activeSpeakers`, remote levels) in this context rather than from stats
 * @property {'auto' | 'websocket' | 'longpoll'} [transport] signaling transport (default auto:
 *   WebSocket, long-poll when it does not work within 3 s; tried again on every reconnect)
 * @property {number} [unavailableRetries] how often a join the cluster cannot place now
 *   (`unavailable`) is tried again before it fails (default 6; a `joinRetry` event each time)
 * @property {number} [unavailableDelayMs] the pause before the first such retry, doubling up to
 *   8 times this (default 500: 0.5, 1, 2, 4, 4, 4 s, each ±25 %)
 * @property {{[K in keyof RoomEvents]?: (...args: RoomEvents[K]) => void}} [on] handlers registered
 *   before the first join, for the events `Room.connect` may emit before it resolves (`joinRetry`)
 */

/**
 * A join the cluster could not place now (`unavailable`: its Redis is
 * unreachable), about to be tried again.
 * @typedef {object} JoinRetry
 * @property {number} attempt 1 for the first retry
 * @property {number} retries the retries allowed before the join fails
 * @property {number} delayMs the pause before this retry
 */

/**
 * The session moved to another node: the node it was on drains and sent a
 * `redirect` event; the Room joined afresh there and published its tracks
 * again (docs/protocol.md, "Moving to another node").
 * @typedef {object} Moved
 * @property {string} url the node's signaling URL now in use
 * @property {string} reason the server's reason, e.g. "node draining"
 */

/**
 * Events and their arguments, for `room.on(name, fn)`.
 * @typedef {object} RoomEvents
 * @property {[RemoteParticipant]} participantJoined
 * @property {[RemoteParticipant]} participantLeft
 * @property {[RemoteTrack, RemoteParticipant]} trackPublished announced; subscription follows
 * @property {[RemoteTrack, RemoteParticipant]} trackUnpublished
 * @property {[RemoteTrack, RemoteParticipant]} trackSubscribed media is arriving: use track.stream
 * @property {[RemoteTrack, RemoteParticipant]} trackUnsubscribed
 * @property {[RemoteTrack, RemoteParticipant, boolean]} trackMuted
 * @property {[RemoteTrack, boolean]} subscriptionPaused
 * @property {[LocalTrack]} localTrackPublished
 * @property {[LocalTrack]} localTrackUnpublished
 * @property {[LocalTrack, boolean]} localTrackMuted
 * @property {[string[]]} activeSpeakersChanged participant SIDs speaking now (the local one
 *   included), loudest first; from the server's `activeSpeakers`
 * @property {[string]} dominantSpeakerChanged the dominant speaker's participant SID ("" for none);
 *   stable across pauses and coughs (docs/speaker.md)
 * @property {[Object<string, number>]} audioLevels participant SID → level 0..1 for speaking rings,
 *   about every levelIntervalMs while a level moves
 * @property {[string]} removed the server ended the session (the reason); no reconnect follows
 * @property {[ConnectionState]} connectionStateChanged 'reconnecting' while a new socket resumes the
 *   session (media keeps flowing meanwhile)
 * @property {[string, boolean[]]} layersChanged trackSid, active flag per layer (lowest first)
 * @property {[LiveStats]} stats every statsIntervalMs
 * @property {[JoinRetry]} joinRetry the room cannot be placed now (the cluster's Redis is down);
 *   the join is tried again after delayMs: a page may show "waiting for the server"
 * @property {[Moved]} moved the session moved to another node (its node drains): joined there
 *   afresh, local tracks published again, remote tracks subscribed anew; a page may show a toast
 * @property {[Error]} error also a SignalError `redirect_loop` when a join met more than
 *   3 redirects, or the session was moved more than 3 times in a row (a reconnect then starts
 *   over at the URL given to connect)
 */

export {};
