// @ts-check
/**
 * hibiki.js: the browser client of the hibiki SFU.
 *
 * ```js
 * import { Room } from './hibiki.js';
 * const room = await Room.connect('wss://host/ws', token);
 * room.on('trackSubscribed', (track, participant) => { video.srcObject = track.stream; });
 * await room.publishCamera({ simulcast: true });
 * await room.publishMicrophone();
 * ```
 * Two peer connections per room (docs/protocol.md): the client offers on the publish one, the
 * server on the subscribe one, naming each m-line's track in a `mids` map. A lost socket is
 * resumed on a new one with both connections kept (session.js); a draining node's `redirect`
 * event moves the Room to another node (a fresh join there); the server names the speakers.
 * Only this module's exports are the public API; the other files are its parts.
 * @module hibiki
 */

import { Emitter } from './emitter.js';
import { SignalError } from './signal.js';
import { Session } from './session.js';
import { Remotes, RemoteParticipant, RemoteTrack } from './remote.js';
import { LocalTrack, findLocal, openCamera, openMicrophone } from './local.js';
import { summarizeBoth } from './stats.js';
import { Speakers } from './speakers.js';
import { RoomStats } from './roomstats.js';
import { DataChannels } from './data.js';
import { P2P } from './p2p.js'; // p2p hook

export { SignalError, RemoteParticipant, RemoteTrack, LocalTrack, DataChannels };

/** @typedef {import('./remote.js').ParticipantInfo} ParticipantInfo */
/** @typedef {import('./remote.js').TrackInfo} TrackInfo */
/** @typedef {import('./local.js').PublishOptions} PublishOptions */
/** @typedef {import('./local.js').CameraOptions} CameraOptions */
/** @typedef {import('./stats.js').TransportSummary} TransportSummary */
/** @typedef {import('./stats.js').LiveStats} LiveStats */
/** @typedef {import('./signal.js').Message} Message */
/** @typedef {import('./types.js').ConnectionState} ConnectionState */
/** @typedef {import('./types.js').RoomOptions} RoomOptions */
/** @typedef {import('./types.js').RoomEvents} RoomEvents */

/**
 * A connection to one hibiki room. Create it with `Room.connect`; listen with
 * `room.on(name, fn)` (see RoomEvents).
 * @extends {Emitter<RoomEvents>}
 */
export class Room extends Emitter {
  /**
   * Joins a room and resolves once the server accepted the token. In a
   * cluster, `redirect` replies are followed (at most 3 per join) and a room
   * that cannot be placed now is tried again with backoff (`joinRetry`).
   * @param {string} url WebSocket URL of the server's `/ws` (any node of a cluster)
   * @param {string} token join token (HS256 JWT)
   * @param {RoomOptions} [opts]
   * @returns {Promise<Room>}
   */
  static async connect(url, token, opts = {}) {
    const room = new Room(url, token, opts);
    room.session.setState('connecting');
    try {
      await room.session.join();
    } catch (err) {
      room.shutdown();
      throw err;
    }
    room.roomStats.start();
    return room;
  }

  /**
   * @private
   * @param {string} url
   * @param {string} token
   * @param {RoomOptions} opts
   */
  constructor(url, token, opts) {
    super();
    for (const [name, fn] of Object.entries(opts.on ?? {})) this.on(/** @type {keyof RoomEvents} */ (name), /** @type {any} */ (fn));
    this.opts = opts;
    this.roomName = '';
    /** @type {{sid: string, identity: string, name: string}} */
    this.localParticipant = { sid: '', identity: '', name: '' };
    /** @type {import('./remote.js').TrackInfo[]} our tracks as the server knows them (last `joined`) */
    this.selfTracks = [];
    /** @type {Map<string, LocalTrack>} by track SID */
    this.localTracks = new Map();
    /** @type {Map<string, string>} trackSid → last "w x h/maxLayer" sent, re-sent after reconnect */
    this.videoSizes = new Map();
    /** @type {LocalTrack[] | null} the local tracks while a re-join publishes them again */
    this.republishing = null;
    this.speakers = new Speakers({
      activeSpeakersChanged: (sids) => this.emit('activeSpeakersChanged', sids),
      dominantSpeakerChanged: (sid) => this.emit('dominantSpeakerChanged', sid),
      audioLevels: (levels) => this.emit('audioLevels', levels),
    });
    /** data messages through the server: room.data.send(payload, {to, topic, lossy}) */
    this.data = new DataChannels();
    /** @type {RTCConfiguration} the peer connections' configuration from the latest join */
    this.rtcConfig = {};
    // p2p hook: direct two-party calls (p2p.js); null when turned off.
    /** @type {P2P | null} */
    this.p2p = null;
    const subscribed = (/** @type {RemoteTrack} */ t, /** @type {RemoteParticipant} */ p) => {
      if (t.kind === 'audio' && t.stream) this.roomStats.meter?.attach(t.sid, t.stream);
      this.emit('trackSubscribed', t, p);
      const size = this.videoSizes.get(t.sid);
      if (size) this.sendVideoSize(t.sid, size);
    };
    const unsubscribed = (/** @type {RemoteTrack} */ t, /** @type {RemoteParticipant} */ p) => {
      this.roomStats.meter?.detach(t.sid);
      this.emit('trackUnsubscribed', t, p);
    };
    this.remotes = new Remotes({
      participantJoined: (p) => this.emit('participantJoined', p),
      participantLeft: (p) => {
        this.speakers.forget(p.sid);
        this.emit('participantLeft', p);
      },
      trackMuted: (t, p) => this.emit('trackMuted', t, p, t.muted),
      trackPublished: (t, p) => this.emit('trackPublished', t, p),
      trackUnpublished: (t, p) => {
        this.p2p?.unpublished(t); // p2p hook
        this.videoSizes.delete(t.sid);
        this.emit('trackUnpublished', t, p);
      },
      trackSubscribed: (t, p) => { if (!this.p2p?.holdSubscribed(t)) subscribed(t, p); }, // p2p hook
      trackUnsubscribed: (t, p) => { if (!this.p2p?.holdUnsubscribed(t)) unsubscribed(t, p); }, // p2p hook
    });
    /** the `stats` event, speaker detection from stats, and speaking-ring levels */
    this.roomStats = new RoomStats({
      state: () => this.state,
      summary: () => this.statsSummary(),
      emit: (live) => this.emit('stats', live),
      speakers: this.speakers,
      remotes: this.remotes,
      localTracks: () => this.localTracks.values(),
      localSid: () => this.localParticipant.sid,
    }, opts);
    // p2p hook
    if (opts.p2p !== false) {
      const owner = (/** @type {RemoteTrack} */ t) => this.participants.get(t.participantSid);
      this.p2p = new P2P({
        send: (m) => this.session.signal?.send(m) ?? false,
        request: (m) => this.session.request(m),
        config: () => this.rtcConfig,
        localTracks: () => this.localTracks.values(),
        remotes: this.remotes,
        subscribePC: () => this.pcs.subscribe,
        subscribed: (t) => { const p = owner(t); if (p) subscribed(t, p); },
        unsubscribed: (t) => { const p = owner(t); if (p) unsubscribed(t, p); },
        videoSizes: () => this.videoSizes,
      });
    }
    this.session = new Session(url, token, opts, {
      message: (m) => this.onMessage(m),
      joined: (joined, resumed) => this.onJoined(joined, resumed),
      state: (s) => this.emit('connectionStateChanged', s),
      republish: () => this.republish(),
      resumed: () => this.afterResume(),
      negotiated: () => this.reapplyLayers(),
      error: (e) => this.fail(e),
      ended: () => this.shutdown(),
      retrying: (r) => this.emit('joinRetry', r),
      moved: (m) => this.emit('moved', m),
    });
  }

  /** @returns {ConnectionState} */
  get state() {
    return this.session.state;
  }

  /** @returns {string} the session (participant) SID a resume names */
  get sessionId() {
    return this.session.sessionId;
  }

  /** @returns {Session['counters']} resumes, re-joins, publish ICE restarts, the last resume's duration */
  get counters() { return this.session.counters; }

  /** @returns {string} the signaling transport in use: 'websocket', 'longpoll' or '' */
  get transport() {
    return this.session.signal?.transport ?? '';
  }

  /** @returns {Map<string, RemoteParticipant>} the other participants, by SID */
  get participants() {
    return this.remotes.participants;
  }

  /** @returns {string[]} participant SIDs speaking now, loudest first (the local one included) */
  get activeSpeakers() {
    return this.speakers.active;
  }

  /** @returns {string} the dominant speaker's participant SID, "" while there is none */
  get dominantSpeaker() {
    return this.speakers.dominant;
  }

  /** @returns {{publish: RTCPeerConnection | null, subscribe: RTCPeerConnection | null}} for tests and stats */
  get pcs() {
    const t = this.session.transports;
    return { publish: t.publish?.pc ?? null, subscribe: t.subscribe?.pc ?? null };
  }

  /**
   * @private
   * @param {unknown} err
   */
  fail(err) {
    this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }

  /**
   * Takes in a `joined` reply. On a fresh join the old connections are
   * gone, and with them the bindings of the remote tracks; on a resume they
   * stay, and only the room view is replaced.
   * @private
   * @param {Message} joined
   * @param {boolean} resumed
   */
  onJoined(joined, resumed) {
    this.roomName = joined.room || '';
    const me = joined.participant || {};
    this.localParticipant = { sid: me.sid || '', identity: me.identity || '', name: me.name || me.identity || '' };
    this.selfTracks = me.tracks || [];
    this.data.maxSize = joined.maxDataSize || 0;
    this.rtcConfig = this.session.rtcConfig(joined);
    if (!resumed) { // the data channels and bindings of the closed connections are gone too
      this.p2p?.reset(); // p2p hook: a fresh participant; the direct session ended with the old one
      this.remotes.unbindAll();
      this.speakers.setDominant('');
      this.data.detach();
      const sub = this.session.transports.subscribe;
      if (sub) this.data.attach(sub.pc);
    }
    this.remotes.sync(joined.participants || []);
    // The room's current speakers ride on joined, so a late joiner (or a
    // resumed one) does not wait for the next change to see them.
    if (joined.dominant || joined.speakers) {
      this.speakers.onServer({ dominant: joined.dominant, speakers: joined.speakers });
    }
  }

  /**
   * Dispatches one server event.
   * @private
   * @param {Message} m
   */
  onMessage(m) {
    if (this.p2p?.onMessage(m)) return; // p2p hook
    switch (m.type) {
      case 'participantJoined': if (m.participant) this.remotes.add(m.participant); break;
      case 'participantLeft': this.remotes.remove(m.participantSid); break;
      case 'trackPublished': if (m.track) this.remotes.addTrack(m.participantSid, m.track); break;
      case 'trackUnpublished': this.remotes.removeTrack(m.participantSid, m.trackSid); break;
      case 'trackMuted': this.onTrackMuted(m.trackSid, !!m.muted); break;
      case 'layersChanged': this.onLayersChanged(m.trackSid, m.active || []); break;
      case 'subscriptionPaused': {
        const t = this.remotes.track(m.trackSid);
        if (t) {
          t.paused = !!m.paused;
          this.emit('subscriptionPaused', t, t.paused);
        }
        break;
      }
      case 'offer': this.onSubscribeOffer(m.sdp || '', m.mids || {}); break;
      case 'activeSpeakers': this.speakers.onServer({ dominant: m.dominant, speakers: m.speakers }); break;
      case 'removed': // the socket closes next; nothing to reconnect
        this.shutdown().finally(() => this.emit('removed', m.message || 'removed by the server'));
        break;
      case 'error': this.fail(new SignalError(m.code || 'error', m.message || '')); break;
      default: break;
    }
  }

  /**
   * @private
   * @param {string} trackSid
   * @param {boolean} muted
   */
  onTrackMuted(trackSid, muted) {
    const t = this.remotes.track(trackSid);
    if (t) this.remotes.addTrack(t.participantSid, { sid: trackSid, muted });
  }

  /**
   * @private
   * @param {string} trackSid
   * @param {boolean[]} active
   */
  onLayersChanged(trackSid, active) {
    const lt = this.localTracks.get(trackSid);
    console.debug(`hibiki: layersChanged ${trackSid} ${active}${lt ? '' : ' (not ours)'}`);
    if (lt) lt.applyLayers(active).catch((e) => this.fail(e));
    this.emit('layersChanged', trackSid, active);
  }

  /**
   * @private
   * @param {string} sdp
   * @param {Object<string, string>} mids
   */
  onSubscribeOffer(sdp, mids) {
    const t = this.session.transports.subscribe;
    if (!t) return;
    // An answer lost with a socket is no harm: the server sends its offer again after a resume.
    t.answer(sdp, () => this.remotes.applyOffer(t.pc, sdp, mids),
      (answer) => this.session.signal?.send({ type: 'answer', target: 'subscribe', sdp: answer }))
      .catch((e) => this.fail(e));
  }

  /**
   * After a resume: re-send the tile sizes and mute states that requests
   * lost with the socket may not have delivered.
   * @private
   */
  async afterResume() {
    for (const [sid, key] of this.videoSizes) this.sendVideoSize(sid, key);
    const known = new Map(this.selfTracks.map((i) => [i.sid, !!i.muted]));
    for (const lt of this.localTracks.values()) {
      if (known.get(lt.sid) !== lt.muted) await this.session.request({ type: 'mute', trackSid: lt.sid, muted: lt.muted });
    }
  }

  /**
   * Restarts ICE on the publish connection (new credentials, a new offer).
   * The library does it by itself when ICE fails or stays disconnected;
   * call it when you know the network changed.
   */
  restartIce() {
    return this.session.restartIce();
  }

  /** @private Publishes the local tracks again on a fresh publish connection. */
  async republish() {
    // Kept until a re-join got them all out, so a failed attempt loses none.
    const all = this.republishing ?? [...this.localTracks.values()];
    this.republishing = all;
    this.localTracks.clear();
    for (const lt of all) {
      lt.sender = null;
      lt.activeLayers = null; // the new session's layersChanged decides
      await this.addLocal(lt);
    }
    await this.session.negotiatePublish();
    for (const lt of all) if (lt.muted) await this.session.request({ type: 'mute', trackSid: lt.sid, muted: true });
    this.republishing = null;
  }

  /**
   * Ends everything on this side: socket, peer connections, timers and the
   * local tracks; the state goes `disconnected`.
   * @private
   * @param {{leave?: boolean}} [opts]
   */
  async shutdown(opts = {}) {
    this.roomStats.stop();
    this.p2p?.reset(); // p2p hook
    this.remotes.unbindAll();
    this.data.detach();
    const closed = this.session.close(opts);
    for (const lt of this.localTracks.values()) lt.track.stop();
    this.localTracks.clear();
    for (const sid of [...this.participants.keys()]) this.remotes.remove(sid);
    await closed;
  }

  /** @private Applying an answer can reset the encodings' active flags: apply the server's wish again. */
  reapplyLayers() {
    for (const lt of this.localTracks.values()) if (lt.activeLayers) lt.applyLayers(lt.activeLayers).catch((e) => this.fail(e));
  }

  /**
   * Announces a track and adds its sender (without negotiating).
   * @private
   * @param {LocalTrack} lt
   */
  async addLocal(lt) {
    lt.cid = lt.track.id; // a new sender's msid is its current track's id
    const reply = await this.session.request({ type: 'publish', track: lt.info() });
    lt.sid = reply.track?.sid || '';
    const pc = this.pcs.publish;
    if (!pc) throw new Error('not connected');
    const tr = pc.addTransceiver(lt.track, {
      direction: 'sendonly', streams: [new MediaStream([lt.track])], sendEncodings: lt.encodings(),
    });
    lt.sender = tr.sender;
    this.localTracks.set(lt.sid, lt);
    this.p2p?.addLocal(lt); // p2p hook
    if (lt.activeLayers) await lt.applyLayers(lt.activeLayers);
  }

  /**
   * Publishes any MediaStreamTrack.
   * @param {MediaStreamTrack} track
   * @param {PublishOptions} [opts]
   * @returns {Promise<LocalTrack>}
   */
  async publishTrack(track, opts = {}) {
    const lt = new LocalTrack(track, opts);
    if (lt.source === 'screen') track.contentHint = 'detail';
    await this.addLocal(lt);
    await this.session.negotiatePublish();
    this.emit('localTrackPublished', lt);
    return lt;
  }

  /**
   * Opens the camera and publishes it; 1280x720 unless told otherwise.
   * @param {CameraOptions} [opts]
   * @returns {Promise<LocalTrack>}
   */
  async publishCamera(opts = {}) {
    const track = await openCamera(opts);
    return this.publishTrack(track, { source: 'camera', name: opts.name || 'camera', simulcast: !!opts.simulcast });
  }

  /**
   * Opens the microphone and publishes it.
   * @param {{deviceId?: string, name?: string}} [opts]
   * @returns {Promise<LocalTrack>}
   */
  async publishMicrophone(opts = {}) {
    const track = await openMicrophone(opts);
    return this.publishTrack(track, { source: 'microphone', name: opts.name || 'microphone' });
  }

  /**
   * Shares a screen or window; the share is unpublished when the user stops it.
   * @param {{audio?: boolean}} [opts]
   * @returns {Promise<LocalTrack>}
   */
  async publishScreen(opts = {}) {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: !!opts.audio });
    const video = stream.getVideoTracks()[0];
    const lt = await this.publishTrack(video, { source: 'screen', name: 'screen' });
    video.addEventListener('ended', () => { this.unpublish(lt).catch((e) => this.fail(e)); });
    const audio = stream.getAudioTracks()[0];
    if (audio) await this.publishTrack(audio, { source: 'screen_audio', name: 'screen audio' });
    return lt;
  }

  /**
   * @private
   * @param {LocalTrack | MediaStreamTrack | string} ref
   * @returns {LocalTrack}
   */
  local(ref) {
    const lt = findLocal(this.localTracks, ref);
    if (!lt) throw new Error('not a published track');
    return lt;
  }

  /**
   * Mutes or unmutes a published track: the sender's track is disabled (so
   * nothing is encoded) and the server stops forwarding it.
   * @param {LocalTrack | MediaStreamTrack | string} ref the LocalTrack, its MediaStreamTrack, or its SID
   * @param {boolean} muted
   */
  async setMuted(ref, muted) {
    const lt = this.local(ref);
    lt.muted = muted;
    lt.track.enabled = !muted;
    if (lt.sender?.track) lt.sender.track.enabled = !muted;
    this.emit('localTrackMuted', lt, muted);
    await this.session.request({ type: 'mute', trackSid: lt.sid, muted });
  }

  /**
   * Swaps the source of a published track (another camera or microphone)
   * without renegotiating. The old track is stopped.
   * @param {LocalTrack | MediaStreamTrack | string} ref
   * @param {MediaStreamTrack} track
   */
  async replaceTrack(ref, track) {
    const lt = this.local(ref);
    track.enabled = !lt.muted;
    await lt.sender?.replaceTrack(track);
    const old = lt.track;
    lt.track = track;
    this.p2p?.replaceTrack(lt); // p2p hook
    if (old !== track) old.stop();
  }

  /**
   * Switches the camera or microphone of a published track to another device.
   * @param {LocalTrack | MediaStreamTrack | string} ref
   * @param {string} deviceId from navigator.mediaDevices.enumerateDevices()
   */
  async switchDevice(ref, deviceId) {
    const lt = this.local(ref);
    const s = lt.track.getSettings();
    lt.track.stop(); // some phones cannot open two cameras at once
    const track = lt.kind === 'audio'
      ? await openMicrophone({ deviceId })
      : await openCamera({ deviceId, width: s.width, height: s.height });
    await this.replaceTrack(lt, track);
  }

  /**
   * Stops publishing a track.
   * @param {LocalTrack | MediaStreamTrack | string} ref
   * @param {{stop?: boolean}} [opts] stop the MediaStreamTrack too (default true)
   */
  async unpublish(ref, opts = {}) {
    const lt = this.local(ref);
    this.localTracks.delete(lt.sid);
    this.p2p?.removeLocal(lt); // p2p hook
    if (opts.stop ?? true) lt.track.stop();
    this.emit('localTrackUnpublished', lt);
    await this.session.request({ type: 'unpublish', trackSid: lt.sid });
    const pc = this.pcs.publish;
    if (pc && lt.sender && pc.signalingState !== 'closed') {
      pc.removeTrack(lt.sender);
      await this.session.negotiatePublish();
    }
  }

  /**
   * Tells the server how large the tile showing a remote video is, so it
   * forwards the smallest simulcast layer that covers it. 0x0 pauses the
   * track. Call it from a ResizeObserver on the tile.
   * @param {string} trackSid
   * @param {number} width CSS pixels times devicePixelRatio
   * @param {number} height
   * @param {number} [maxLayer] 0..2, optional cap
   */
  setVideoSize(trackSid, width, height, maxLayer) {
    const key = `${Math.round(width)}x${Math.round(height)}/${maxLayer ?? ''}`;
    if (this.videoSizes.get(trackSid) === key) return;
    this.videoSizes.set(trackSid, key);
    this.sendVideoSize(trackSid, key);
    this.p2p?.videoSize(trackSid, key); // p2p hook
  }

  /**
   * @private
   * @param {string} trackSid
   * @param {string} key
   */
  sendVideoSize(trackSid, key) {
    const m = /^(\d+)x(\d+)\/(\d*)$/.exec(key);
    if (!m || this.state !== 'connected' || !this.remotes.track(trackSid)) return;
    this.session.request({
      type: 'setVideoSize', trackSid, width: Number(m[1]), height: Number(m[2]),
      maxLayer: m[3] === '' ? undefined : Number(m[3]),
    }).catch((e) => { if (!(e instanceof SignalError && e.code === 'not_found')) this.fail(e); }); // gone meanwhile
  }

  /** Leaves the room, closes everything and stops the local tracks. */
  async leave() {
    if (this.session.ending) return;
    await this.shutdown({ leave: true });
  }

  /**
   * Raw reports of both peer connections.
   * @returns {Promise<{publish: RTCStatsReport | null, subscribe: RTCStatsReport | null}>}
   */
  async getStats() {
    const [publish, subscribe] = await Promise.all([this.pcs.publish?.getStats(), this.pcs.subscribe?.getStats()]);
    return { publish: publish ?? null, subscribe: subscribe ?? null };
  }

  /**
   * Both reports as plain objects; inbound streams carry their track SID.
   * With a direct connection, `p2p` holds its summary and `subscribe.inbound`
   * the stream each track is shown from.
   * @returns {Promise<import('./stats.js').Summary & {p2p?: TransportSummary | null}>}
   */
  async statsSummary() {
    const s = await summarizeBoth(this.pcs, (mid) => this.remotes.sidOfMid(mid));
    return this.p2p ? this.p2p.merge(s) : s; // p2p hook
  }
}
