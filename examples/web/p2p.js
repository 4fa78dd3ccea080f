// @ts-check
// Two-party calls peer to peer (docs/p2p.md). When the server sends `p2p`,
// the client opens a third RTCPeerConnection straight to the other
// participant, relaying its SDP and ICE over the socket (`p2pOffer`,
// `p2pAnswer`, `p2pCandidate`). The SFU connections stay up. Each remote
// track is *presented* from one source: its SFU receiver or its direct one.
// A track switches to the direct source once that decodes, and back to the
// SFU once the SFU's media decodes (make before break), so tiles only see
// `trackSubscribed` again with another stream. When every track of the peer
// comes directly the client says `p2pReady` and the server stops forwarding.

import { summarize } from './stats.js';

/** @typedef {import('./signal.js').Message} Message */
/** @typedef {import('./remote.js').RemoteTrack} RemoteTrack */
/** @typedef {import('./remote.js').Remotes} Remotes */
/** @typedef {import('./local.js').LocalTrack} LocalTrack */
/** @typedef {import('./stats.js').Summary} Summary */
/** @typedef {import('./stats.js').TransportSummary} TransportSummary */

/** How long a direct connection may take to carry every track of the peer. */
export const CONNECT_TIMEOUT_MS = 8000;
/** Silence on the direct connection's data channel after which it failed. */
export const HEARTBEAT_TIMEOUT_MS = 2000;
const HEARTBEAT_MS = 400;
const POLL_MS = 150;
/** After p2pEnd: the direct connection lives until the peer said it switched, or this long ... */
const END_GRACE_MS = 2000;
/** ... and at most this long, whether or not SFU media arrived. */
const END_MAX_MS = 5000;

/**
 * Where a track's media comes from: a receiver and the stream made of it.
 * @typedef {{mediaTrack: MediaStreamTrack, stream: MediaStream, receiver: RTCRtpReceiver, mid: string | null}} Binding
 */

/**
 * What the Room lends the P2P part.
 * @typedef {object} P2PHost
 * @property {(m: Message) => boolean} send
 * @property {(m: Message) => Promise<Message>} request
 * @property {() => RTCConfiguration} config the SFU connections' configuration (ICE servers)
 * @property {() => Iterable<LocalTrack>} localTracks
 * @property {Remotes} remotes
 * @property {() => RTCPeerConnection | null} subscribePC
 * @property {(t: RemoteTrack) => void} subscribed emits trackSubscribed as the Room does
 * @property {(t: RemoteTrack) => void} unsubscribed emits trackUnsubscribed as the Room does
 * @property {() => Map<string, string>} videoSizes remote track SID → "WxH/maxLayer" last asked for
 */

/** @typedef {'idle' | 'connecting' | 'active' | 'ending'} P2PState */

/**
 * @param {RemoteTrack} t
 * @returns {Binding | null}
 */
function bindingOf(t) {
  return t.mediaTrack && t.stream && t.receiver ? { mediaTrack: t.mediaTrack, stream: t.stream, receiver: t.receiver, mid: t.mid } : null;
}

/**
 * @param {RemoteTrack} t
 * @param {Binding | null} b
 */
function apply(t, b) {
  t.mediaTrack = b ? b.mediaTrack : null;
  t.stream = b ? b.stream : null;
  t.receiver = b ? b.receiver : null;
  t.mid = b ? b.mid : null;
}

/**
 * Media progress of the inbound streams of one report, by track SID:
 * frames decoded for video, packets for audio.
 * @param {RTCStatsReport} report
 * @param {(mid: string) => string} sidOfMid
 * @returns {Map<string, number>}
 */
export function progressBySid(report, sidOfMid) {
  /** @type {Map<string, number>} */
  const out = new Map();
  report.forEach((/** @type {any} */ s) => {
    if (s.type !== 'inbound-rtp') return;
    const sid = sidOfMid(s.mid ?? '');
    if (!sid) return;
    const n = s.kind === 'video' ? (s.framesDecoded ?? 0) : (s.packetsReceived ?? 0);
    out.set(sid, Math.max(out.get(sid) ?? 0, n));
  });
  return out;
}

/** One direct connection attempt, named by the server's session id. */
class Session {
  /**
   * @param {P2P} owner
   * @param {string} id
   * @param {string} peerSid
   * @param {boolean} offerer
   */
  constructor(owner, id, peerSid, offerer) {
    this.owner = owner;
    this.id = id;
    this.peerSid = peerSid;
    this.offerer = offerer;
    /** @type {P2PState} */
    this.state = 'connecting';
    this.startedAt = Date.now();
    this.endedAt = 0;
    this.lastHeard = Date.now();
    this.readySent = false;
    this.busy = false;
    /** the peer shows everything from the SFU again (after p2pEnd) */
    this.peerOnSFU = false;
    /** @type {Map<string, number>} peer tracks not (yet) coming directly, since when */
    this.missing = new Map();
    this.toldOnSFU = false;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.tracksAdded = false;
    /** @type {Map<string, RTCRtpSender>} local track SID → sender */
    this.senders = new Map();
    /** @type {Map<string, string>} the peer's mid → its track SID */
    this.peerMids = new Map();
    /** @type {Map<string, Binding>} remote track SID → direct receiver */
    this.bindings = new Map();
    /** @type {Map<string, number> | null} SFU progress by SID when the session ended */
    this.sfuBase = null;
    /** @type {Promise<void>} */
    this.chain = Promise.resolve();
    /** @type {Promise<void>} serializes setParameters of the direct senders */
    this.sizeChain = Promise.resolve();
    const cfg = owner.host.config();
    this.pc = new RTCPeerConnection({ iceServers: cfg.iceServers, iceTransportPolicy: cfg.iceTransportPolicy, bundlePolicy: 'max-bundle' });
    this.pc.onicecandidate = (ev) => {
      if (ev.candidate) this.owner.host.send({ type: 'p2pCandidate', session: this.id, candidate: ev.candidate.toJSON() });
    };
    this.pc.onnegotiationneeded = () => { this.negotiate().catch((e) => this.fail(`negotiation: ${e}`)); };
    this.pc.onconnectionstatechange = () => {
      console.info(`hibiki: p2p ${this.id} connection ${this.pc.connectionState}`);
      if (this.pc.connectionState === 'failed') this.fail('connection failed');
    };
    this.dc = this.offerer ? this.openChannel() : null;
    if (this.offerer) this.addLocalTracks();
    this.timer = setInterval(() => this.tick(), POLL_MS);
    this.beat = setInterval(() => { if (this.dc?.readyState === 'open') this.dc.send('ping'); }, HEARTBEAT_MS);
  }

  /**
   * The data channel carries a heartbeat only: its silence tells a dead
   * path sooner than ICE does. Both sides create it (negotiated, id 0).
   * @returns {RTCDataChannel}
   */
  openChannel() {
    const dc = this.pc.createDataChannel('hibiki-p2p', { negotiated: true, id: 0 });
    dc.onmessage = (ev) => {
      this.lastHeard = Date.now();
      if (ev.data === 'sfu') this.peerOnSFU = true;
      else if (typeof ev.data === 'string' && ev.data.startsWith('{')) this.onPeerSize(ev.data);
    };
    dc.onopen = () => {
      this.lastHeard = Date.now();
      for (const [sid, key] of this.owner.host.videoSizes()) this.sendSize(sid, key);
    };
    return dc;
  }

  addLocalTracks() {
    this.tracksAdded = true;
    for (const lt of this.owner.host.localTracks()) this.addLocal(lt);
  }

  /** @param {LocalTrack} lt */
  addLocal(lt) {
    if (!lt.sid || this.senders.has(lt.sid) || this.pc.signalingState === 'closed') return;
    this.senders.set(lt.sid, this.pc.addTrack(lt.track, new MediaStream([lt.track])));
  }

  /**
   * Tells the peer the size of the tile showing its track, as
   * setVideoSize tells the server: the peer sends that size directly.
   * @param {string} sid
   * @param {string} key "WxH/maxLayer"
   */
  sendSize(sid, key) {
    const m = /^(\d+)x(\d+)/.exec(key);
    if (m && this.dc?.readyState === 'open') this.dc.send(JSON.stringify({ size: sid, w: Number(m[1]), h: Number(m[2]) }));
  }

  /**
   * Scales (or, for a hidden tile, pauses) the direct sender of one of our
   * tracks to the size the peer shows it at.
   * @param {string} data
   */
  onPeerSize(data) {
    /** @type {{size?: string, w?: number, h?: number}} */
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      return;
    }
    const sender = m.size ? this.senders.get(m.size) : undefined;
    const track = sender?.track;
    if (!sender || !track || track.kind !== 'video') return;
    const w = m.w ?? 0;
    const h = m.h ?? 0;
    const s = track.getSettings();
    // The steps of the SFU's simulcast layers: the smallest that covers the
    // tile. Steps, not the exact ratio: each change restarts the encoder.
    let scale = 1;
    for (const f of [4, 2]) {
      if ((s.width || 0) / f >= w && (s.height || 0) / f >= h) {
        scale = f;
        break;
      }
    }
    const active = w > 0 || h > 0;
    this.sizeChain = this.sizeChain.then(async () => {
      const p = sender.getParameters();
      const enc = p.encodings?.[0];
      if (!enc || (enc.active === active && (enc.scaleResolutionDownBy ?? 1) === scale)) return;
      enc.active = active;
      enc.scaleResolutionDownBy = scale;
      await sender.setParameters(p);
    }).catch((e) => console.warn('hibiki: p2p size', e));
  }

  /** @param {LocalTrack} lt */
  removeLocal(lt) {
    const s = this.senders.get(lt.sid);
    this.senders.delete(lt.sid);
    if (s && this.pc.signalingState !== 'closed') this.pc.removeTrack(s);
  }

  /** @param {LocalTrack} lt */
  replaceTrack(lt) { this.senders.get(lt.sid)?.replaceTrack(lt.track).catch(() => {}); }

  /** @returns {Object<string, string>} our mid → track SID */
  localMids() {
    /** @type {Object<string, string>} */
    const out = {};
    for (const tr of this.pc.getTransceivers()) {
      for (const [sid, s] of this.senders) if (tr.sender === s && tr.mid) out[tr.mid] = sid;
    }
    return out;
  }

  /** Perfect negotiation: the answerer is polite and yields on glare. */
  async negotiate() {
    if (this.state === 'ending' || this.pc.signalingState === 'closed') return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      const sdp = this.pc.localDescription?.sdp || '';
      this.owner.host.send({ type: 'p2pOffer', session: this.id, sdp, mids: this.localMids() });
    } finally {
      this.makingOffer = false;
    }
  }

  /**
   * @param {Message} m a relayed p2pOffer, p2pAnswer or p2pCandidate
   */
  receive(m) {
    this.chain = this.chain.then(() => this.apply(m)).catch((e) => {
      console.warn(`hibiki: p2p ${m.type}`, e);
      if (m.type !== 'p2pCandidate') this.fail(`${m.type}: ${e}`);
    });
  }

  /** @param {Message} m */
  async apply(m) {
    const pc = this.pc;
    if (pc.signalingState === 'closed') return;
    if (m.type === 'p2pCandidate') {
      try {
        await pc.addIceCandidate(m.candidate);
      } catch (e) {
        if (!this.ignoreOffer) throw e;
      }
      return;
    }
    const type = m.type === 'p2pOffer' ? 'offer' : 'answer';
    const collision = type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
    this.ignoreOffer = this.offerer && collision;
    if (this.ignoreOffer) return;
    this.peerMids = new Map(Object.entries(m.mids || {}));
    await pc.setRemoteDescription({ type, sdp: m.sdp || '' });
    if (type === 'offer') {
      if (!this.dc) this.dc = this.openChannel();
      if (!this.tracksAdded) this.addLocalTracks(); // they take the offered transceivers
      await pc.setLocalDescription();
      this.owner.host.send({ type: 'p2pAnswer', session: this.id, sdp: pc.localDescription?.sdp || '', mids: this.localMids() });
    }
    this.bindRemote();
  }

  /** Binds each receiving transceiver the peer named to its track SID. */
  bindRemote() {
    const seen = new Set();
    for (const tr of this.pc.getTransceivers()) {
      const sid = tr.mid ? this.peerMids.get(tr.mid) : undefined;
      const recv = tr.currentDirection === 'recvonly' || tr.currentDirection === 'sendrecv';
      if (!sid || !recv) continue;
      seen.add(sid);
      if (this.bindings.get(sid)?.receiver === tr.receiver) continue;
      const track = tr.receiver.track;
      this.bindings.set(sid, { mediaTrack: track, stream: new MediaStream([track]), receiver: tr.receiver, mid: tr.mid });
    }
    for (const sid of [...this.bindings.keys()]) {
      if (seen.has(sid)) continue;
      this.bindings.delete(sid);
      if (this.owner.via.get(sid) === this) this.owner.present(sid, null);
    }
  }

  /**
   * @param {string} reason
   */
  fail(reason) {
    if (this.state === 'ending' || this.state === 'idle') return;
    console.warn(`hibiki: p2p ${this.id} failed: ${reason}`);
    this.owner.host.request({ type: 'p2pFailed', session: this.id }).catch(() => {});
    this.end();
  }

  /** Starts the way back to the SFU: tracks switch as its media decodes. */
  end() {
    if (this.state === 'ending' || this.state === 'idle') return;
    this.state = 'ending';
    this.endedAt = Date.now();
    this.pc.onnegotiationneeded = null;
    this.owner.sfuProgress().then((p) => { this.sfuBase = p; }).catch(() => {});
  }

  /** Every POLL_MS: switch sources, report ready, watch the heartbeat. */
  async tick() {
    if (this.busy || this.state === 'idle') return;
    this.busy = true;
    try {
      if (this.state === 'ending') await this.tickEnding();
      else await this.tickLive();
    } catch (e) {
      console.warn('hibiki: p2p tick', e);
    } finally {
      this.busy = false;
    }
  }

  async tickLive() {
    const now = Date.now();
    const connected = this.pc.connectionState === 'connected';
    if (connected && this.dc?.readyState === 'open' && now - this.lastHeard > HEARTBEAT_TIMEOUT_MS) {
      this.fail('heartbeat lost');
      return;
    }
    const progress = progressBySid(await this.pc.getStats(), (mid) => this.peerMids.get(mid) || '');
    for (const [sid, n] of progress) {
      if (n > 0 && this.bindings.has(sid) && this.owner.via.get(sid) !== this) this.owner.present(sid, this);
    }
    const peer = this.owner.host.remotes.participants.get(this.peerSid);
    const all = connected && !!peer && [...peer.tracks.keys()].every((sid) => this.owner.via.get(sid) === this);
    if (all && !this.readySent) {
      this.readySent = true;
      this.state = 'active';
      console.info(`hibiki: p2p ${this.id} ready after ${now - this.startedAt} ms`);
      this.owner.host.request({ type: 'p2pReady', session: this.id }).catch(() => {});
    } else if (!this.readySent && now - this.startedAt > CONNECT_TIMEOUT_MS) {
      this.fail(`not carrying every track after ${CONNECT_TIMEOUT_MS} ms`);
    }
    if (!this.readySent || !peer) return;
    // A track the peer publishes later must come directly too: the server
    // forwards nothing between a ready pair.
    for (const sid of peer.tracks.keys()) {
      if (this.owner.via.get(sid) === this) this.missing.delete(sid);
      else if (!this.missing.has(sid)) this.missing.set(sid, now);
      else if (now - (this.missing.get(sid) ?? now) > CONNECT_TIMEOUT_MS) this.fail(`track ${sid} never came directly`);
    }
  }

  async tickEnding() {
    const now = Date.now();
    const mine = [...this.owner.via].filter(([, s]) => s === this).map(([sid]) => sid);
    const base = this.sfuBase;
    if (mine.length > 0 && base) {
      const progress = await this.owner.sfuProgress();
      for (const sid of mine) {
        // A stream the SFU never fed has no stats yet: any progress is new.
        if ((progress.get(sid) ?? 0) > (base.get(sid) ?? 0) || now - this.endedAt > END_MAX_MS) this.owner.present(sid, null);
      }
    }
    const done = [...this.owner.via.values()].every((s) => s !== this);
    if (done && !this.toldOnSFU && this.dc?.readyState === 'open') {
      this.toldOnSFU = true;
      this.dc.send('sfu'); // the peer may stop sending directly
    }
    const grace = this.peerOnSFU || now - this.endedAt > END_GRACE_MS;
    if ((done && grace) || now - this.endedAt > END_MAX_MS) this.close();
  }

  close() {
    if (this.state === 'idle') return;
    this.state = 'idle';
    clearInterval(this.timer);
    clearInterval(this.beat);
    for (const [sid, s] of [...this.owner.via]) if (s === this) this.owner.present(sid, null);
    this.pc.onicecandidate = null;
    this.pc.onnegotiationneeded = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
    console.info(`hibiki: p2p ${this.id} closed`);
    this.owner.closed(this);
  }
}

/** The P2P part of a Room: at most one live session and one closing. */
export class P2P {
  /** @param {P2PHost} host */
  constructor(host) {
    this.host = host;
    /** @type {Session | null} the session the server last started */
    this.session = null;
    /** @type {Set<Session>} every session not yet closed */
    this.sessions = new Set();
    /** @type {Map<string, Session>} track SID → the session presenting it */
    this.via = new Map();
    /** @type {Map<string, Binding>} track SID → its SFU receiver */
    this.sfu = new Map();
    /** sessions started since the page joined, for tests and the stats panel */
    this.started = 0;
    /** @type {{at: number, sid: string, to: 'p2p' | 'sfu'}[]} the latest source switches */
    this.switches = [];
  }

  /** @returns {P2PState} */
  get state() { return this.session ? this.session.state : 'idle'; }

  /** @returns {RTCPeerConnection | null} the live direct connection */
  get pc() {
    return this.session && this.session.state !== 'idle' ? this.session.pc : null;
  }

  /**
   * Handles the p2p messages; false for others.
   * @param {Message} m
   * @returns {boolean}
   */
  onMessage(m) {
    switch (m.type) {
      case 'p2p':
        for (const s of this.sessions) {
          if (s.state === 'ending') s.close();
          else s.end();
        }
        this.session = new Session(this, m.session || '', m.participantSid || '', m.role === 'offer');
        this.sessions.add(this.session);
        this.started++;
        console.info(`hibiki: p2p ${m.session} starts as ${m.role}`);
        return true;
      case 'p2pEnd':
        for (const s of this.sessions) if (s.id === m.session) s.end();
        console.info(`hibiki: p2p ${m.session} ends: ${m.reason}`);
        return true;
      case 'p2pOffer': case 'p2pAnswer': case 'p2pCandidate':
        for (const s of this.sessions) if (s.id === m.session && s.state !== 'ending') s.receive(m);
        return true;
      default:
        return false;
    }
  }

  /**
   * Presents sid from a session's direct receiver, or (s null) from its
   * SFU receiver again, and tells the Room's listeners.
   * @param {string} sid
   * @param {Session | null} s
   */
  present(sid, s) {
    const t = this.host.remotes.track(sid);
    const b = s ? s.bindings.get(sid) : this.sfu.get(sid);
    if (s) this.via.set(sid, s);
    else this.via.delete(sid);
    this.switches.push({ at: Date.now(), sid, to: s ? 'p2p' : 'sfu' });
    if (this.switches.length > 64) this.switches.shift();
    if (!t) return;
    apply(t, b ?? null);
    if (b) this.host.subscribed(t);
    else this.host.unsubscribed(t);
  }

  /**
   * The Room's Remotes bound t to an SFU receiver. Returns true when the
   * direct source presents it (the Room then stays quiet).
   * @param {RemoteTrack} t
   * @returns {boolean}
   */
  holdSubscribed(t) {
    const b = bindingOf(t);
    if (b) this.sfu.set(t.sid, b);
    const s = this.via.get(t.sid);
    if (!s) return false;
    apply(t, s.bindings.get(t.sid) ?? null);
    return true;
  }

  /**
   * The SFU receiver of t went away. True when the direct source still
   * presents it.
   * @param {RemoteTrack} t
   * @returns {boolean}
   */
  holdUnsubscribed(t) {
    this.sfu.delete(t.sid);
    const s = this.via.get(t.sid);
    if (!s) return false;
    apply(t, s.bindings.get(t.sid) ?? null);
    return true;
  }

  /**
   * t was unpublished: whatever presents it goes.
   * @param {RemoteTrack} t
   */
  unpublished(t) {
    this.sfu.delete(t.sid);
    if (!this.via.has(t.sid)) return;
    this.via.delete(t.sid);
    apply(t, null);
    this.host.unsubscribed(t);
  }

  /** @param {LocalTrack} lt */
  addLocal(lt) {
    const s = this.session;
    if (s && s.state !== 'ending' && s.state !== 'idle' && s.tracksAdded) s.addLocal(lt);
  }

  /** @param {LocalTrack} lt */
  removeLocal(lt) {
    for (const s of this.sessions) s.removeLocal(lt);
  }

  /**
   * The page resized the tile of a remote track (Room.setVideoSize).
   * @param {string} sid
   * @param {string} key "WxH/maxLayer"
   */
  videoSize(sid, key) {
    for (const s of this.sessions) if (s.state !== 'ending') s.sendSize(sid, key);
  }

  /** @param {LocalTrack} lt */
  replaceTrack(lt) {
    for (const s of this.sessions) s.replaceTrack(lt);
  }

  /**
   * Media progress of the SFU's receivers, by track SID.
   * @returns {Promise<Map<string, number>>}
   */
  async sfuProgress() {
    const pc = this.host.subscribePC();
    if (!pc) return new Map();
    return progressBySid(await pc.getStats(), (mid) => this.host.remotes.sidOfMid(mid));
  }

  /**
   * Adds the direct connection to a stats summary: `p2p` holds its
   * transport, and `subscribe.inbound` lists, for each track, the stream
   * of the source that presents it.
   * @param {Summary} s
   * @returns {Promise<Summary & {p2p: TransportSummary | null}>}
   */
  async merge(s) {
    const sess = this.session;
    if (!sess || sess.state === 'idle') return { ...s, p2p: null };
    const p2p = summarize(sess.pc, await sess.pc.getStats(), (mid) => sess.peerMids.get(mid) || '');
    if (s.subscribe) {
      const direct = new Set([...this.via].filter(([, x]) => x === sess).map(([sid]) => sid));
      s.subscribe.inbound = [
        ...s.subscribe.inbound.filter((i) => !direct.has(i.trackSid)),
        ...p2p.inbound.filter((i) => direct.has(i.trackSid)),
      ];
    }
    return { ...s, p2p };
  }

  /** @param {Session} s */
  closed(s) {
    this.sessions.delete(s);
    if (this.session === s) this.session = null;
  }

  /** Drops every session at once (the socket is gone). */
  reset() {
    for (const s of [...this.sessions]) s.close();
    this.via.clear();
    this.sfu.clear();
  }
}
