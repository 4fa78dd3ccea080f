// @ts-check
// The WebSocket half of the hibiki client: request/reply matching by id,
// server events handed to one callback, and an application-level keepalive
// (browsers cannot see WebSocket pings, so a dead socket would otherwise go
// unnoticed until the OS gives up on it).

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
 */

/**
 * @typedef {object} Pending
 * @property {(m: Message) => void} resolve
 * @property {(e: Error) => void} reject
 * @property {ReturnType<typeof setTimeout>} timer
 */

export class Signal {
  /**
   * @param {string} url the `/ws` endpoint (ws: or wss:)
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
    /** @type {Map<string, Pending>} */
    this.pending = new Map();
    this.nextId = 1;
    this.closed = false;
    this.lastHeard = Date.now();
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.pingTimer = undefined;
    /** @type {WebSocket | null} */
    this.ws = null;
  }

  /**
   * Opens the socket.
   * @returns {Promise<void>}
   */
  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.lastHeard = Date.now();
        this.pingTimer = setInterval(() => this.keepalive(), this.pingIntervalMs);
        resolve();
      };
      ws.onmessage = (ev) => this.receive(ev.data);
      ws.onerror = () => {
        if (!opened) reject(new Error(`websocket to ${this.url} failed`));
      };
      ws.onclose = (ev) => {
        if (!opened) reject(new Error(`websocket to ${this.url} closed (${ev.code})`));
        this.shutdown(`socket closed (${ev.code}${ev.reason ? ' ' + ev.reason : ''})`);
      };
    });
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
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
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
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(code);
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
