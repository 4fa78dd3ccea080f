// @ts-check
// The connection half of a Room: the socket, join and resume, reconnecting
// with backoff, the two peer connections, and the publish connection's
// negotiation and ICE restarts (docs/protocol.md, "Resume" and "ICE
// restart"). A participant outlives its socket on the server for the resume
// window, so a lost socket leaves the peer connections (and the media) alone:
// a new socket sends `join` with `resume: sessionId`, and only when the server
// no longer knows the session are the connections rebuilt and the tracks
// published again. A node that drains moves the session: its `redirect`
// event names the new node, where the Room joins afresh (docs/protocol.md,
// "Moving to another node"). The Room gets what it needs through SessionHooks.

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
 * @property {(r: import('./types.js').JoinRetry) => void} retrying a join refused as `unavailable` is tried again after r.delayMs
 * @property {(m: import('./types.js').Moved) => void} moved after a `redirect` event, joined and published again on the new node
 */

/** Error codes after which reconnecting cannot help. */
const FATAL = new Set(['bad_token', 'token_expired', 'forbidden']);

/**
 * Redirects one join follows (docs/protocol.md, "Redirect"); more mean the
 * cluster is changing under us: the join fails with the client-side code
 * `redirect_loop`, and a reconnect starts over at the first URL.
 */
export const MAX_REDIRECTS = 3;

/**
 * A `redirect` event (a draining node moving the session) within this long
 * of the one before counts as a move in a row. More than MAX_REDIRECTS moves
 * in a row are a loop: `redirect_loop`, and a fresh join at the first URL
 * after a pause.
 */
export const MOVE_SETTLE_MS = 10000;

/**
 * The pause before retry n (0 for the first) of a join the cluster cannot
 * place now (`unavailable`: its Redis is down): `first`, doubling, capped at
 * 8 × first, so 0.5, 1, 2, 4, 4, … s by default. Jitter is the caller's.
 * @param {number} n
 * @param {number} first
 * @returns {number} milliseconds
 */
export function unavailableDelay(n, first) {
  return Math.min(first * 2 ** n, first * 8);
}

export class Session {
  /**
   * @param {string} url
   * @param {string} token
   * @param {RoomOptions} opts
   * @param {SessionHooks} hooks
   */
  constructor(url, token, opts, hooks) {
    /** the signaling URL in use: where the last redirect pointed (a resume must go there) */
    this.url = url;
    /** the URL given to connect; a reconnect that fails elsewhere starts over here */
    this.entryUrl = url;
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
    /** the number of the latest reconnect attempt; an older one that fails late is ignored */
    this.attempt = 0;
    /** @type {import('./types.js').Moved | null} the move a reconnect is carrying out, announced once it is done */
    this.moving = null;
    /** moves in a row (MOVE_SETTLE_MS), and when the last one came */
    this.moveStreak = 0;
    this.lastMoveAt = 0;
    /** counters for tests and diagnostics */
    this.counters = { resumes: 0, rejoins: 0, publishIceRestarts: 0, lastResumeMs: 0, redirects: 0, joinRetries: 0, moves: 0 };
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
   * join builds new ones. A join the cluster cannot place now
   * (`unavailable`) is tried again a bounded number of times with growing
   * pauses, each announced through hooks.retrying.
   * @returns {Promise<boolean>} whether the session was resumed
   */
  async join() {
    const retries = this.opts.unavailableRetries ?? 6;
    const first = this.opts.unavailableDelayMs ?? 500;
    for (let n = 0; ; n++) {
      try {
        return await this.joinFollowing();
      } catch (err) {
        if (!(err instanceof SignalError) || err.code !== 'unavailable' || n >= retries || this.ending) throw err;
        const sig = this.signal; // the server closes it too
        this.signal = null;
        sig?.close('join refused: unavailable', CLOSE_RESUME);
        const delayMs = Math.round(unavailableDelay(n, first) * (0.75 + Math.random() / 2));
        this.counters.joinRetries++;
        console.warn(`hibiki: the room cannot be placed now; join retry ${n + 1}/${retries} in ${delayMs} ms`);
        this.hooks.retrying({ attempt: n + 1, retries, delayMs });
        await new Promise((r) => setTimeout(r, delayMs));
        if (this.ending) throw new Error('closed while waiting to retry the join');
      }
    }
  }

  /**
   * One join, following the cluster's redirects: a node that does not serve
   * the room answers `redirect` with the URL of one that does, and the same
   * join (token, resume) goes there on a new socket.
   * @private
   * @returns {Promise<boolean>} whether the session was resumed
   */
  async joinFollowing() {
    for (let redirects = 0; ; redirects++) {
      const sig = new Signal(this.url, (m) => this.onMessage(m, sig), (reason) => this.onSignalClose(sig, reason),
        { transport: this.opts.transport });
      this.signal = sig;
      await sig.open();
      const resume = this.sessionId;
      const reply = await sig.request({
        type: 'join', token: this.token,
        autoSubscribe: this.opts.autoSubscribe ?? true,
        resume: resume || undefined,
        capabilities: this.opts.p2p === false ? undefined : ['p2p'], // p2p hook: docs/p2p.md
      });
      if (reply.type !== 'redirect') {
        if (this.signal !== sig) throw new Error('socket replaced while joining');
        return this.applyJoined(reply, resume);
      }
      if (this.signal === sig) this.signal = null;
      sig.close('redirected', CLOSE_RESUME); // the server closes it as well
      if (redirects >= MAX_REDIRECTS || !reply.url) {
        this.url = this.entryUrl;
        const err = new SignalError('redirect_loop', reply.url ? `more than ${MAX_REDIRECTS} redirects` : 'redirect without url');
        this.hooks.error(err);
        throw err;
      }
      this.url = new URL(reply.url, this.url).toString();
      this.counters.redirects++;
      console.info(`hibiki: redirected to ${this.url}`);
    }
  }

  /**
   * Takes in the reply to a join sent with `resume` (or none).
   * @private
   * @param {Message} joined
   * @param {string} resume
   * @returns {boolean} whether the session was resumed
   */
  applyJoined(joined, resume) {
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
   * @param {Signal} sig the socket it came on
   */
  onMessage(m, sig) {
    if (m.type === 'redirect') { // an event: a reply to join went to its request
      if (sig === this.signal) this.onMove(m);
      return;
    }
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

  /**
   * A `redirect` event: the node drains, and the participant is already gone
   * from it. Nothing to resume: drop the socket and both peer connections and
   * join afresh at the new URL, as after a lost session (hooks.republish).
   * @private
   * @param {Message} m
   */
  onMove(m) {
    if (this.ending || this.removedReason) return;
    const reason = m.reason || 'redirected';
    let url = '';
    try {
      url = m.url ? new URL(m.url, this.url).toString() : '';
    } catch {
      // no usable URL: handled as a redirect without one
    }
    console.info(`hibiki: moving to ${url || '(no url)'} (${reason})`);
    this.attempt++; // a reconnect in flight (its republish) gives way
    const sig = this.signal;
    this.signal = null; // its close (the server's too) is no lost socket
    sig?.close('moved to another node', CLOSE_LEAVE);
    this.closeTransports();
    this.sessionId = '';
    const now = Date.now();
    this.moveStreak = now - this.lastMoveAt < MOVE_SETTLE_MS ? this.moveStreak + 1 : 1;
    this.lastMoveAt = now;
    this.counters.moves++;
    this.lostAt = now;
    if (this.opts.reconnect === false) {
      this.hooks.ended();
      this.hooks.error(new Error(`disconnected: moved to ${url} (${reason})`));
      return;
    }
    this.setState('reconnecting');
    if (!url || this.moveStreak > MAX_REDIRECTS) {
      this.url = this.entryUrl;
      this.moving = null;
      this.hooks.error(new SignalError('redirect_loop', url ? `moved more than ${MAX_REDIRECTS} times in a row` : 'redirect without url'));
      this.reconnectAttempt = Math.max(this.reconnectAttempt, this.moveStreak - MAX_REDIRECTS);
      this.scheduleReconnect();
      return;
    }
    this.url = url;
    this.moving = { url, reason };
    this.reconnect();
  }

  /** @private */
  async reconnect() {
    if (this.ending || this.state !== 'reconnecting') return;
    const attempt = ++this.attempt;
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
      if (attempt !== this.attempt) return; // a move took over
      this.counters[resumed ? 'resumes' : 'rejoins']++;
      if (this.lostAt) this.counters.lastResumeMs = Date.now() - this.lostAt;
      console.info(`hibiki: ${resumed ? 'resumed' : 're-joined'} after ${this.counters.lastResumeMs} ms`);
      const moved = this.moving;
      this.moving = null;
      if (moved) this.hooks.moved({ url: this.url, reason: moved.reason });
    } catch (err) {
      if (attempt === this.attempt) this.onReconnectFailed(err);
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
    // The node we were sent to may be gone: ask the first one where the room is now.
    this.url = this.entryUrl;
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
   * is not an error: it goes out again after the resume; nor is one on a
   * connection a move or a re-join closed: the republish sends its tracks.
   */
  async negotiatePublish() {
    const t = this.transports.publish;
    if (!t) throw new Error('not connected');
    try {
      await t.negotiate((sdp) => this.exchangePublish(sdp));
    } catch (err) {
      if (!this.ending && (this.state === 'reconnecting' || t !== this.transports.publish)) return;
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
