// @ts-check
// The connection half of a Room: the socket, join and resume, reconnecting
// with backoff, the two peer connections, and the publish connection's
// negotiation and ICE restarts (docs/protocol.md, "Resume" and "ICE
// restart"). A participant outlives its socket on the server for the resume
// window, so a lost socket leaves the peer connections (and the media) alone:
// a new socket sends `join` with `resume: sessionId`, and only when the server
// no longer knows the session are the connections rebuilt and the tracks
// published again. The Room gets what it needs through SessionHooks.

import { Signal, SignalError, CLOSE_LEAVE, CLOSE_RESUME } from './signal.js';
import { Transport } from './transport.js';
import { IceWatch } from './icewatch.js';

/** @typedef {import('./signal.js').Message} Message */
/** @typedef {import('./types.js').ConnectionState} ConnectionState */
/** @typedef {import('./types.js').RoomOptions} RoomOptions */

/**
 * What the session asks of the Room.
 * @typedef {object} SessionHooks
 * @property {(m: Message) => void} message a server event other than ICE candidates
 * @property {(joined: Message, resumed: boolean) => void} joined a `joined` reply was applied
 * @property {(s: ConnectionState) => void} state
 * @property {() => Promise<void>} republish after a fresh join: publish every local track again
 * @property {() => Promise<void>} resumed after a resume: re-send what the Room's state needs
 * @property {() => void} negotiated a publish answer was applied
 * @property {(e: Error) => void} error
 * @property {() => void} ended the session is over (refused token, `removed`): shut down
 */

/** Error codes after which reconnecting cannot help. */
const FATAL = new Set(['bad_token', 'token_expired', 'forbidden']);

export class Session {
  /**
   * @param {string} url
   * @param {string} token
   * @param {RoomOptions} opts
   * @param {SessionHooks} hooks
   */
  constructor(url, token, opts, hooks) {
    this.url = url;
    this.token = token;
    this.opts = opts;
    this.hooks = hooks;
    /** @type {ConnectionState} */
    this.state = 'disconnected';
    this.sessionId = '';
    /** @type {Signal | null} */
    this.signal = null;
    /** @type {{publish: Transport | null, subscribe: Transport | null}} */
    this.transports = { publish: null, subscribe: null };
    /** @type {IceWatch | null} restarts ICE on the publish connection */
    this.iceWatch = null;
    /** @type {{target: string, candidate: RTCIceCandidateInit}[]} local candidates gathered while the socket was down */
    this.candidateBacklog = [];
    this.ending = false;
    /** the server's reason when it ended the session (`removed`) */
    this.removedReason = '';
    this.reconnectAttempt = 0;
    /** when the socket was lost, for lastResumeMs */
    this.lostAt = 0;
    /** a fresh join's republish is under way */
    this.republishing = false;
    /** counters for tests and diagnostics */
    this.counters = { resumes: 0, rejoins: 0, publishIceRestarts: 0, lastResumeMs: 0 };
  }

  /**
   * @param {ConnectionState} s
   */
  setState(s) {
    if (this.state === s) return;
    console.info(`hibiki: ${this.state} -> ${s}`);
    this.state = s;
    this.hooks.state(s);
  }

  /**
   * Opens a socket and joins, resuming the session when there is one. A
   * resume keeps both peer connections (with the new ICE servers); a fresh
   * join builds new ones.
   * @returns {Promise<boolean>} whether the session was resumed
   */
  async join() {
    const sig = new Signal(this.url, (m) => this.onMessage(m), (reason) => this.onSignalClose(sig, reason),
      { transport: this.opts.transport });
    this.signal = sig;
    await sig.open();
    const resume = this.sessionId;
    const joined = await sig.request({
      type: 'join', token: this.token,
      autoSubscribe: this.opts.autoSubscribe ?? true,
      resume: resume || undefined,
    });
    if (this.signal !== sig) throw new Error('socket replaced while joining');
    const resumed = !!joined.resumed && !!resume && !!this.transports.publish && !!this.transports.subscribe;
    this.sessionId = joined.sessionId || '';
    const config = this.rtcConfig(joined);
    if (resumed) {
      for (const t of [this.transports.publish, this.transports.subscribe]) {
        try {
          t?.pc.setConfiguration({ ...t.pc.getConfiguration(), ...config });
        } catch (err) {
          console.warn('hibiki: setConfiguration after resume', err);
        }
      }
    } else {
      this.buildTransports(config);
    }
    this.hooks.joined(joined, resumed);
    this.setState('connected');
    return resumed;
  }

  /**
   * @private
   * @param {RTCConfiguration} config
   */
  buildTransports(config) {
    this.closeTransports();
    this.candidateBacklog = [];
    for (const target of /** @type {const} */ (['publish', 'subscribe'])) {
      const t = new Transport(target, config, (tg, c) => this.sendCandidate(tg, c));
      t.pc.addEventListener('connectionstatechange', () => console.info(`hibiki: ${target} connection ${t.pc.connectionState}`));
      t.pc.addEventListener('iceconnectionstatechange', () => console.info(`hibiki: ${target} ICE ${t.pc.iceConnectionState}`));
      this.transports[target] = t;
    }
    const pub = /** @type {Transport} */ (this.transports.publish);
    this.iceWatch = new IceWatch(pub.pc, (state) => {
      console.info(`hibiki: publish ICE ${state}, restarting`);
      this.restartIce().catch((e) => this.hooks.error(e));
    });
  }

  /**
   * The peer connections' configuration from a `joined` reply: its ICE
   * servers (fresh TURN credentials each time) and its transport policy,
   * which the options can tighten to relay but not loosen.
   * @param {Message} joined
   * @returns {RTCConfiguration}
   */
  rtcConfig(joined) {
    const relay = joined.iceTransportPolicy === 'relay' || this.opts.iceTransportPolicy === 'relay';
    return {
      iceServers: this.opts.iceServers ?? joined.iceServers ?? [],
      bundlePolicy: 'max-bundle',
      iceTransportPolicy: relay ? 'relay' : 'all',
    };
  }

  /**
   * Sends a local candidate (with its usernameFragment, which names the ICE
   * generation), or keeps it for the resume while the socket is down.
   * @private
   * @param {string} target
   * @param {RTCIceCandidateInit} candidate
   */
  sendCandidate(target, candidate) {
    if (this.state === 'connected' && this.signal?.send({ type: 'candidate', target, candidate })) return;
    this.candidateBacklog.push({ target, candidate });
  }

  /**
   * @private
   * @param {Message} m
   */
  onMessage(m) {
    if (m.type === 'candidate') {
      const t = this.transports[m.target === 'subscribe' ? 'subscribe' : 'publish'];
      if (t && m.candidate) t.addRemoteCandidate(m.candidate).catch((e) => this.hooks.error(e));
      return;
    }
    if (m.type === 'removed') {
      this.removedReason = m.message || 'removed by the server';
      console.warn(`hibiki: removed: ${this.removedReason}`);
    }
    this.hooks.message(m);
  }

  /**
   * A request on the current socket; refused while not connected.
   * @param {Message} m
   * @returns {Promise<Message>}
   */
  request(m) {
    if (!this.signal || this.state !== 'connected') return Promise.reject(new Error(`not connected (${this.state})`));
    return this.signal.request(m);
  }

  /**
   * The socket ended. The peer connections carry on (media keeps flowing)
   * while a new socket resumes the session.
   * @private
   * @param {Signal} sig
   * @param {string} reason
   */
  onSignalClose(sig, reason) {
    if (sig !== this.signal) return;
    this.signal = null;
    if (this.ending || this.state !== 'connected') return; // a join in flight deals with it
    if (this.removedReason) {
      this.hooks.ended();
      return;
    }
    console.warn(`hibiki: signal lost: ${reason}`);
    if (this.opts.reconnect === false) {
      this.hooks.ended();
      this.hooks.error(new Error(`disconnected: ${reason}`));
      return;
    }
    this.lostAt = Date.now();
    this.setState('reconnecting');
    this.scheduleReconnect();
  }

  /** @private The first attempt almost at once, then doubling pauses. */
  scheduleReconnect() {
    const cap = this.opts.maxReconnectDelayMs ?? 8000;
    const base = this.reconnectAttempt === 0 ? 100 : 250 * 2 ** (this.reconnectAttempt - 1);
    const delay = Math.min(cap, base) * (0.75 + Math.random() / 2);
    this.reconnectAttempt++;
    setTimeout(() => this.reconnect(), delay);
  }

  /** @private */
  async reconnect() {
    if (this.ending || this.state !== 'reconnecting') return;
    try {
      if (this.opts.refreshToken) this.token = await this.opts.refreshToken();
      const resumed = await this.join();
      this.reconnectAttempt = 0;
      if (resumed) {
        await this.afterResume();
      } else {
        this.republishing = true;
        await this.hooks.republish();
        this.republishing = false;
      }
      this.counters[resumed ? 'resumes' : 'rejoins']++;
      if (this.lostAt) this.counters.lastResumeMs = Date.now() - this.lostAt;
      console.info(`hibiki: ${resumed ? 'resumed' : 're-joined'} after ${this.counters.lastResumeMs} ms`);
    } catch (err) {
      this.onReconnectFailed(err);
    }
  }

  /**
   * @private
   * @param {unknown} err
   */
  onReconnectFailed(err) {
    const code = err instanceof SignalError ? err.code : '';
    console.warn('hibiki: re-join failed', err);
    if (this.ending || this.removedReason) return;
    if (FATAL.has(code)) {
      this.hooks.ended();
      this.hooks.error(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const sig = this.signal;
    this.signal = null;
    if (code === 'not_found' || this.republishing) {
      // The session ended, or a half-done republish left it in doubt: start afresh.
      this.sessionId = '';
      this.republishing = false;
      sig?.close('giving up on the session', CLOSE_LEAVE);
    } else {
      sig?.close('re-join failed', CLOSE_RESUME);
    }
    this.setState('reconnecting');
    this.scheduleReconnect();
  }

  /**
   * After a resume: send what the dead socket may have swallowed, and bring
   * the publish connection back: its unanswered offer again, or an ICE
   * restart when ICE is down.
   * @private
   */
  async afterResume() {
    const backlog = this.candidateBacklog;
    this.candidateBacklog = [];
    for (const b of backlog) this.sendCandidate(b.target, b.candidate);
    const t = this.transports.publish;
    if (t && t.pc.localDescription) {
      const ice = t.pc.iceConnectionState;
      if (ice === 'disconnected' || ice === 'failed') await this.restartIce();
      else if (t.pc.signalingState === 'have-local-offer' || t.pc.connectionState !== 'connected') await this.negotiatePublish();
    }
    this.iceWatch?.check();
    await this.hooks.resumed();
  }

  /**
   * Restarts ICE on the publish connection: new credentials, a new offer.
   * Without a socket it waits for the resume, which looks again.
   */
  async restartIce() {
    const t = this.transports.publish;
    if (!t || !t.pc.localDescription || this.state !== 'connected') return;
    this.counters.publishIceRestarts++;
    await t.restartIce((sdp) => this.exchangePublish(sdp));
    this.hooks.negotiated();
  }

  /**
   * @private
   * @param {string} sdp
   * @returns {Promise<string>} the answer
   */
  async exchangePublish(sdp) {
    const reply = await this.request({ type: 'offer', target: 'publish', sdp });
    return reply.sdp || '';
  }

  /**
   * Negotiates the publish connection. An offer cut off by a lost socket
   * is not an error: it goes out again after the resume.
   */
  async negotiatePublish() {
    const t = this.transports.publish;
    if (!t) throw new Error('not connected');
    try {
      await t.negotiate((sdp) => this.exchangePublish(sdp));
    } catch (err) {
      if (this.state === 'reconnecting' && t === this.transports.publish) return;
      throw err;
    }
    this.hooks.negotiated();
  }

  /** Closes both peer connections. */
  closeTransports() {
    this.iceWatch?.close();
    this.iceWatch = null;
    this.transports.publish?.close();
    this.transports.subscribe?.close();
    this.transports = { publish: null, subscribe: null };
  }

  /**
   * Ends the session: `leave` first when asked, then a normal close, which
   * tells the server the participant is gone.
   * @param {{leave?: boolean}} [opts]
   */
  async close(opts = {}) {
    this.ending = true;
    const sig = this.signal;
    if (opts.leave && sig && this.state === 'connected') {
      try {
        await sig.request({ type: 'leave' });
      } catch {
        // the socket may already be gone; leaving anyway
      }
    }
    this.signal = null;
    sig?.close('closed', CLOSE_LEAVE);
    this.closeTransports();
    this.setState('disconnected');
  }

  /**
   * Drops the socket as a lost network would, without a close frame the
   * server could take for a leave; for tests of the resume.
   */
  dropSocket() {
    this.signal?.close('dropped', CLOSE_RESUME);
  }
}
