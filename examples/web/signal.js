// @ts-check
// The signaling half of the hibiki client: request/reply matching by id,
// server events handed to one callback, and an application-level keepalive
// (browsers cannot see WebSocket pings, so a dead socket would otherwise go
// unnoticed until the OS gives up on it). Messages go over a WebSocket, or
// over HTTP long-poll when the WebSocket cannot open or stays silent
// (longpoll.js); every open tries the WebSocket first again.

import { LongPollLink, WebSocketLink, longPollUrl } from './longpoll.js';

/**
 * A frame on the wire. Only the fields of its type are set; see
 * docs/protocol.md for the full list.
 * @typedef {{type: string, id?: string, [field: string]: any}} Message
 */

/** Close code of a client that is done: the server ends the participant at once. */
export const CLOSE_LEAVE = 1000;
/** Close code of a client that gives up on this socket only: the participant waits for a resume. */
export const CLOSE_RESUME = 4000;

/** Error carried by a refused request: `code` is the protocol's error code. */
export class SignalError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message ? `${code}: ${message}` : code);
    this.name = 'SignalError';
    this.code = code;
  }
}

/**
 * @typedef {object} SignalOptions
 * @property {number} [requestTimeoutMs] how long a request waits for its reply
 * @property {number} [pingIntervalMs] how often to send `ping`
 * @property {number} [pongTimeoutMs] silence after which the socket is closed
 * @property {number} [fallbackMs] how long the WebSocket may take to open and answer a ping before long-poll is used (3000)
 * @property {'auto' | 'websocket' | 'longpoll'} [transport] force one transport (default auto)
 */

/**
 * @typedef {object} Pending
 * @property {(m: Message) => void} resolve
 * @property {(e: Error) => void} reject
 * @property {ReturnType<typeof setTimeout>} timer
 */

export class Signal {
  /**
   * @param {string} url the `/ws` endpoint (ws: or wss:); long-poll uses `/lp` next to it
   * @param {(m: Message) => void} onEvent receives every frame that is not a reply
   * @param {(reason: string) => void} onClose called once when the socket ends
   * @param {SignalOptions} [opts]
   */
  constructor(url, onEvent, onClose, opts = {}) {
    this.url = url;
    this.onEvent = onEvent;
    this.onClose = onClose;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10000;
    this.pingIntervalMs = opts.pingIntervalMs ?? 5000;
    this.pongTimeoutMs = opts.pongTimeoutMs ?? 15000;
    this.fallbackMs = opts.fallbackMs ?? 3000;
    this.mode = opts.transport ?? 'auto';
    /** the transport in use: 'websocket' or 'longpoll' ('' before open) */
    this.transport = '';
    /** milliseconds open() spent on a WebSocket that did not work */
    this.fallbackTookMs = 0;
    /** @type {Map<string, Pending>} */
    this.pending = new Map();
    this.nextId = 1;
    this.closed = false;
    this.lastHeard = Date.now();
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.pingTimer = undefined;
    /** @type {import('./longpoll.js').Link | null} */
    this.link = null;
  }

  /**
   * Opens a link: a WebSocket that opens and answers a ping within
   * fallbackMs, else long-poll.
   * @returns {Promise<void>}
   */
  async open() {
    const started = Date.now();
    if (this.mode !== 'longpoll') {
      try {
        await this.openLink(new WebSocketLink(this.url), this.fallbackMs, true);
        this.transport = 'websocket';
        console.info('hibiki: signaling over websocket');
        return;
      } catch (err) {
        if (this.mode === 'websocket') throw err;
        this.fallbackTookMs = Date.now() - started;
        console.warn(`hibiki: websocket unusable (${err instanceof Error ? err.message : err}), using long-poll`);
      }
    }
    await this.openLink(new LongPollLink(longPollUrl(this.url)), this.requestTimeoutMs, false);
    this.transport = 'longpoll';
    console.info('hibiki: signaling over long-poll');
  }

  /**
   * @private
   * @param {import('./longpoll.js').Link} link
   * @param {number} timeoutMs for opening and the probe together
   * @param {boolean} probe wait for the reply to a ping (a proxy may pass the upgrade, then nothing)
   */
  async openLink(link, timeoutMs, probe) {
    let fail = (/** @type {Error} */ _e) => {};
    const failed = new Promise((_, reject) => { fail = reject; });
    const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    let ready = false;
    link.onmessage = (text) => { if (this.link === link) this.receive(text); };
    link.onclose = (reason) => {
      if (ready && this.link === link) this.shutdown(reason);
      else fail(new Error(reason));
    };
    this.link = link;
    const probeId = `probe-${this.nextId++}`;
    try {
      await Promise.race([link.open(), failed]);
      if (probe) {
        const pong = new Promise((resolve, reject) => {
          this.pending.set(probeId, { resolve, reject, timer });
        });
        link.send(JSON.stringify({ type: 'ping', id: probeId }));
        await Promise.race([pong, failed]);
      }
      ready = true;
    } catch (err) {
      this.pending.delete(probeId);
      this.link = null;
      link.close(4000);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    this.lastHeard = Date.now();
    this.pingTimer = setInterval(() => this.keepalive(), this.pingIntervalMs);
  }

  /** @private */
  keepalive() {
    if (Date.now() - this.lastHeard > this.pongTimeoutMs) {
      this.close('no reply from server', CLOSE_RESUME);
      return;
    }
    this.send({ type: 'ping' });
  }

  /**
   * @private
   * @param {unknown} data
   */
  receive(data) {
    this.lastHeard = Date.now();
    /** @type {Message} */
    let msg;
    try {
      msg = JSON.parse(String(data));
    } catch {
      return;
    }
    if (!msg || typeof msg.type !== 'string') return;
    const waiter = msg.id ? this.pending.get(msg.id) : undefined;
    if (waiter && msg.id) {
      this.pending.delete(msg.id);
      clearTimeout(waiter.timer);
      if (msg.type === 'error') waiter.reject(new SignalError(msg.code, msg.message));
      else waiter.resolve(msg);
      return;
    }
    if (msg.type === 'pong') return;
    this.onEvent(msg);
  }

  /**
   * Sends a frame without waiting for a reply. Returns false when the socket
   * is not open.
   * @param {Message} msg
   * @returns {boolean}
   */
  send(msg) {
    if (!this.link || this.closed) return false;
    return this.link.send(JSON.stringify(msg));
  }

  /**
   * Sends a request and resolves with its reply; rejects with a SignalError
   * when the server refuses it.
   * @param {Message} msg
   * @returns {Promise<Message>}
   */
  request(msg) {
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error('signal closed'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to ${msg.type} within ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      if (!this.send({ ...msg, id })) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error('signal not open'));
      }
    });
  }

  /**
   * Closes the socket; onClose runs once. The code tells the server what
   * becomes of the participant: CLOSE_LEAVE (1000) ends it at once,
   * CLOSE_RESUME (4000) keeps it for a resume on another socket.
   * @param {string} [reason]
   * @param {number} [code]
   */
  close(reason = 'closed by client', code = CLOSE_LEAVE) {
    this.link?.close(code);
    this.shutdown(reason);
  }

  /**
   * @private
   * @param {string} reason
   */
  shutdown(reason) {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
    }
    this.pending.clear();
    this.onClose(reason);
  }
}
