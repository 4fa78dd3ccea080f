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
 * server on the subscribe one, naming each m-line's track in a `mids` map. Only this module's
 * exports are the public API; the other files are its parts.
 * @module hibiki
 */

import { Emitter } from './emitter.js';
import { Signal, SignalError } from './signal.js';
import { Transport } from './transport.js';
import { Remotes, RemoteParticipant, RemoteTrack } from './remote.js';
import { LocalTrack, findLocal, openCamera, openMicrophone } from './local.js';
import { summarizeBoth, rates, speakersOf, LevelMeter } from './stats.js';
import { DataChannels } from './data.js';

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
   * Joins a room and resolves once the server accepted the token.
   * @param {string} url WebSocket URL of the server's `/ws`
   * @param {string} token join token (HS256 JWT)
   * @param {RoomOptions} [opts]
   * @returns {Promise<Room>}
   */
  static async connect(url, token, opts = {}) {
    const room = new Room(url, token, opts);
    room.setState('connecting');
    try {
      await room.join();
    } catch (err) {
      room.setState('disconnected');
      room.teardown();
      throw err;
    }
    room.statsTimer = setInterval(() => room.pollStats(), opts.statsIntervalMs ?? 500);
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
    this.url = url;
    this.token = token;
    this.opts = opts;
    /** @type {ConnectionState} */
    this.state = 'disconnected';
    this.roomName = '';
    this.sessionId = '';
    /** @type {{sid: string, identity: string, name: string}} */
    this.localParticipant = { sid: '', identity: '', name: '' };
    /** @type {Map<string, LocalTrack>} by track SID */
    this.localTracks = new Map();
    /** @type {Map<string, string>} trackSid → last "w x h/maxLayer" sent, re-sent after reconnect */
    this.videoSizes = new Map();
    /** @type {Signal | null} */
    this.signal = null;
    /** @type {{publish: Transport | null, subscribe: Transport | null}} */
    this.transports = { publish: null, subscribe: null };
    /** @type {string[]} */
    this.activeSpeakers = [];
    /** @type {import('./stats.js').Summary | null} */
    this.prevSummary = null;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.statsTimer = undefined;
    this.leaving = false;
    this.reconnectAttempt = 0;
    /** @type {LocalTrack[] | null} the local tracks while a re-join publishes them again */
    this.republishing = null;
    this.meter = opts.audioContext ? new LevelMeter(opts.audioContext) : null;
    /** data messages through the server: room.data.send(payload, {to, topic, lossy}) */
    this.data = new DataChannels();
    this.remotes = new Remotes({
      participantJoined: (p) => this.emit('participantJoined', p),
      participantLeft: (p) => this.emit('participantLeft', p),
      trackPublished: (t, p) => this.emit('trackPublished', t, p),
      trackUnpublished: (t, p) => {
        this.videoSizes.delete(t.sid);
        this.emit('trackUnpublished', t, p);
      },
      trackSubscribed: (t, p) => {
        if (t.kind === 'audio' && t.stream) this.meter?.attach(t.sid, t.stream);
        this.emit('trackSubscribed', t, p);
        const size = this.videoSizes.get(t.sid);
        if (size) this.sendVideoSize(t.sid, size);
      },
      trackUnsubscribed: (t, p) => {
        this.meter?.detach(t.sid);
        this.emit('trackUnsubscribed', t, p);
      },
    });
  }

  /** @returns {string} the signaling transport in use: 'websocket', 'longpoll' or '' */
  get transport() {
    return this.signal?.transport ?? '';
  }

  /** @returns {Map<string, RemoteParticipant>} the other participants, by SID */
  get participants() {
    return this.remotes.participants;
  }

  /** @returns {{publish: RTCPeerConnection | null, subscribe: RTCPeerConnection | null}} for tests and stats */
  get pcs() {
    return { publish: this.transports.publish?.pc ?? null, subscribe: this.transports.subscribe?.pc ?? null };
  }

  /**
   * @private
   * @param {ConnectionState} s
   */
  setState(s) {
    if (this.state === s) return;
    console.info(`hibiki: ${this.state} -> ${s}`);
    this.state = s;
    this.emit('connectionStateChanged', s);
  }

  /**
   * @private
   * @param {unknown} err
   */
  fail(err) {
    this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }

  /** @private Opens the socket, joins, and builds both peer connections. */
  async join() {
    const sig = new Signal(this.url, (m) => this.onMessage(m), (reason) => this.onSignalClose(sig, reason),
      { transport: this.opts.transport });
    this.signal = sig;
    await sig.open();
    const joined = await sig.request({
      type: 'join', token: this.token,
      autoSubscribe: this.opts.autoSubscribe ?? true,
      resume: this.sessionId || undefined,
    });
    this.sessionId = joined.sessionId || '';
    this.roomName = joined.room || '';
    const me = joined.participant || {};
    this.localParticipant = { sid: me.sid || '', identity: me.identity || '', name: me.name || me.identity || '' };
    /** @type {RTCConfiguration} */
    const config = {
      iceServers: this.opts.iceServers ?? joined.iceServers ?? [],
      bundlePolicy: 'max-bundle',
      iceTransportPolicy: this.opts.iceTransportPolicy ?? 'all',
    };
    const send = (/** @type {string} */ target, /** @type {RTCIceCandidateInit} */ candidate) =>
      sig.send({ type: 'candidate', target, candidate });
    for (const target of /** @type {const} */ (['publish', 'subscribe'])) {
      const t = new Transport(target, config, send);
      t.pc.onconnectionstatechange = () => {
        console.info(`hibiki: ${target} connection ${t.pc.connectionState}`);
        if (t.pc.connectionState === 'failed' && this.signal === sig) sig.close(`${target} connection failed`);
      };
      this.transports[target] = t;
    }
    this.data.maxSize = joined.maxDataSize || 0;
    if (this.transports.subscribe) this.data.attach(this.transports.subscribe.pc);
    this.remotes.sync(joined.participants || []);
    this.setState('connected');
  }

  /**
   * Dispatches one server event.
   * @private
   * @param {Message} m
   */
  onMessage(m) {
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
      case 'candidate': {
        const t = this.transports[m.target === 'subscribe' ? 'subscribe' : 'publish'];
        if (t && m.candidate) t.addRemoteCandidate(m.candidate).catch((e) => this.fail(e));
        break;
      }
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
    const p = t && this.participants.get(t.participantSid);
    if (!t || !p) return;
    t.muted = muted;
    this.emit('trackMuted', t, p, muted);
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
    const t = this.transports.subscribe;
    const sig = this.signal;
    if (!t || !sig) return;
    t.answer(sdp, () => this.remotes.applyOffer(t.pc, sdp, mids),
      (answer) => sig.send({ type: 'answer', target: 'subscribe', sdp: answer }))
      .catch((e) => this.fail(e));
  }

  /**
   * @private
   * @param {Signal} sig
   * @param {string} reason
   */
  onSignalClose(sig, reason) {
    if (sig !== this.signal || this.leaving || this.state === 'disconnected') return;
    console.warn(`hibiki: signal lost: ${reason}`);
    this.teardown();
    if (this.opts.reconnect === false) {
      this.setState('disconnected');
      this.fail(new Error(`disconnected: ${reason}`));
      return;
    }
    this.setState('reconnecting');
    this.scheduleReconnect();
  }

  /** @private */
  scheduleReconnect() {
    const cap = this.opts.maxReconnectDelayMs ?? 8000;
    const delay = Math.min(cap, 250 * 2 ** this.reconnectAttempt) * (0.75 + Math.random() / 2);
    this.reconnectAttempt++;
    setTimeout(() => this.reconnect(), delay);
  }

  /** @private */
  async reconnect() {
    if (this.leaving || this.state !== 'reconnecting') return;
    try {
      if (this.opts.refreshToken) this.token = await this.opts.refreshToken();
      await this.join();
      this.reconnectAttempt = 0;
      await this.republish();
    } catch (err) {
      const code = err instanceof SignalError ? err.code : '';
      console.warn('hibiki: re-join failed', err);
      this.teardown();
      if (code === 'bad_token' || code === 'token_expired' || code === 'forbidden') {
        this.setState('disconnected');
        this.fail(err);
        return;
      }
      if (this.leaving) return;
      this.setState('reconnecting');
      this.scheduleReconnect();
    }
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
    await this.negotiatePublish();
    for (const lt of all) if (lt.muted) await this.request({ type: 'mute', trackSid: lt.sid, muted: true });
    this.republishing = null;
  }

  /** @private Closes the socket and both peer connections, keeping the participant list. */
  teardown() {
    const sig = this.signal;
    this.signal = null;
    sig?.close('teardown');
    this.remotes.unbindAll();
    this.data.detach();
    this.transports.publish?.close();
    this.transports.subscribe?.close();
    this.transports = { publish: null, subscribe: null };
  }

  /**
   * @private
   * @param {Message} m
   * @returns {Promise<Message>}
   */
  request(m) {
    if (!this.signal) return Promise.reject(new Error(`not connected (${this.state})`));
    return this.signal.request(m);
  }

  /** @private */
  async negotiatePublish() {
    const t = this.transports.publish;
    if (!t) throw new Error('not connected');
    await t.negotiate(async (sdp) => {
      const reply = await this.request({ type: 'offer', target: 'publish', sdp });
      return reply.sdp || '';
    });
    // Applying the answer can reset the encodings' active flags: apply the server's wish again.
    for (const lt of this.localTracks.values()) if (lt.activeLayers) lt.applyLayers(lt.activeLayers).catch((e) => this.fail(e));
  }

  /**
   * Announces a track and adds its sender (without negotiating).
   * @private
   * @param {LocalTrack} lt
   */
  async addLocal(lt) {
    lt.cid = lt.track.id; // a new sender's msid is its current track's id
    const reply = await this.request({ type: 'publish', track: lt.info() });
    lt.sid = reply.track?.sid || '';
    const pc = this.transports.publish?.pc;
    if (!pc) throw new Error('not connected');
    const tr = pc.addTransceiver(lt.track, {
      direction: 'sendonly', streams: [new MediaStream([lt.track])], sendEncodings: lt.encodings(),
    });
    lt.sender = tr.sender;
    this.localTracks.set(lt.sid, lt);
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
    await this.negotiatePublish();
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
    await this.request({ type: 'mute', trackSid: lt.sid, muted });
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
    if (opts.stop ?? true) lt.track.stop();
    this.emit('localTrackUnpublished', lt);
    await this.request({ type: 'unpublish', trackSid: lt.sid });
    const pc = this.transports.publish?.pc;
    if (pc && lt.sender && pc.signalingState !== 'closed') {
      pc.removeTrack(lt.sender);
      await this.negotiatePublish();
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
  }

  /**
   * @private
   * @param {string} trackSid
   * @param {string} key
   */
  sendVideoSize(trackSid, key) {
    const m = /^(\d+)x(\d+)\/(\d*)$/.exec(key);
    if (!m || !this.signal || !this.remotes.track(trackSid)) return;
    this.request({
      type: 'setVideoSize', trackSid, width: Number(m[1]), height: Number(m[2]),
      maxLayer: m[3] === '' ? undefined : Number(m[3]),
    }).catch((e) => { if (!(e instanceof SignalError && e.code === 'not_found')) this.fail(e); }); // gone meanwhile
  }

  /** Leaves the room, closes everything and stops the local tracks. */
  async leave() {
    if (this.leaving) return;
    this.leaving = true;
    clearInterval(this.statsTimer);
    try {
      if (this.signal) await this.signal.request({ type: 'leave' });
    } catch {
      // the socket may already be gone; leaving anyway
    }
    this.teardown();
    this.meter?.close();
    for (const lt of this.localTracks.values()) lt.track.stop();
    this.localTracks.clear();
    for (const sid of [...this.participants.keys()]) this.remotes.remove(sid);
    this.setState('disconnected');
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
   * @returns {Promise<import('./stats.js').Summary>}
   */
  statsSummary() {
    return summarizeBoth(this.pcs, (mid) => this.remotes.sidOfMid(mid));
  }

  /** @private Emits `stats` and works out who is speaking. */
  async pollStats() {
    if (this.state !== 'connected') return;
    let cur;
    try {
      cur = await this.statsSummary();
    } catch {
      return;
    }
    const live = rates(cur, this.prevSummary);
    this.prevSummary = cur;
    this.emit('stats', live);
    this.detectSpeakers(live);
  }

  /**
   * @private
   * @param {LiveStats} live
   */
  detectSpeakers(live) {
    const micOn = [...this.localTracks.values()].some((lt) => lt.kind === 'audio' && !lt.muted);
    if (this.meter) {
      for (const [sid, q] of Object.entries(live.tracks)) q.audioLevel = Math.max(q.audioLevel, this.meter.level(sid));
    }
    const speakers = speakersOf(live, {
      threshold: this.opts.speakingThreshold ?? 0.02,
      localSid: micOn ? this.localParticipant.sid : '',
      ownerOf: (sid) => {
        const t = this.remotes.track(sid);
        return t && t.kind === 'audio' && !t.muted ? t.participantSid : '';
      },
    });
    const same = speakers.length === this.activeSpeakers.length
      && speakers.every((s) => this.activeSpeakers.includes(s));
    this.activeSpeakers = speakers;
    if (!same) this.emit('activeSpeakersChanged', speakers);
  }
}
