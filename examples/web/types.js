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
 * @property {number} [statsIntervalMs] period of the `stats` event and speaker detection (default 500)
 * @property {number} [speakingThreshold] audio level (0..1) above which someone speaks (default 0.02)
 * @property {RTCIceServer[]} [iceServers] override the servers the `joined` reply names
 * @property {RTCIceTransportPolicy} [iceTransportPolicy]
 * @property {AudioContext} [audioContext] measure remote audio levels for speaker detection in
 *   this context as well as from stats (stats report zero where audio is not played out)
 * @property {'auto' | 'websocket' | 'longpoll'} [transport] signaling transport (default auto:
 *   WebSocket, long-poll when it does not work within 3 s; tried again on every reconnect)
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
 * @property {[string[]]} activeSpeakersChanged participant SIDs (the local one included), loudest first
 * @property {[ConnectionState]} connectionStateChanged
 * @property {[string, boolean[]]} layersChanged trackSid, active flag per layer (lowest first)
 * @property {[LiveStats]} stats every statsIntervalMs
 * @property {[Error]} error
 */

export {};
