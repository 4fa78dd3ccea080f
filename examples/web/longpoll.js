// @ts-check
// The link layer of the signaling client: one WebSocket, or the HTTP
// long-poll fallback for networks whose proxies refuse the upgrade. Both
// move whole protocol messages (JSON text) in order; Signal (signal.js)
// does requests, replies and keepalive on top of either.
//
// Long-poll (docs/protocol.md): POST /lp opens a session; every message we
// send carries a seq and is posted again until the server acks it (the
// server drops repeats); a held GET /lp?session&ack returns the server's
// messages after ack, each with its seq, and we deliver each seq once.

/**
 * A message link. `onmessage` receives each message's JSON text; `onclose`
 * runs once when the link ends by itself.
 * @typedef {object} Link
 * @property {() => Promise<void>} open
 * @property {(text: string) => boolean} send
 * @property {(code: number) => void} close 1000 ends the session (the participant leaves), others only drop the link
 * @property {(text: string) => void} onmessage
 * @property {(reason: string) => void} onclose
 */

/** @implements {Link} */
export class WebSocketLink {
  /** @param {string} url */
  constructor(url) {
    this.url = url;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.onmessage = (/** @type {string} */ _text) => {};
    this.onclose = (/** @type {string} */ _reason) => {};
  }

  /** @returns {Promise<void>} */
  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let opened = false;
      ws.onopen = () => { opened = true; resolve(); };
      ws.onmessage = (ev) => this.onmessage(String(ev.data));
      ws.onerror = () => { if (!opened) reject(new Error(`websocket to ${this.url} failed`)); };
      ws.onclose = (ev) => {
        if (!opened) reject(new Error(`websocket to ${this.url} closed (${ev.code})`));
        this.onclose(`socket closed (${ev.code}${ev.reason ? ' ' + ev.reason : ''})`);
      };
    });
  }

  /** @param {string} text */
  send(text) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(text);
    return true;
  }

  /** @param {number} code */
  close(code) {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(code);
  }
}

/**
 * The long-poll endpoint next to a WebSocket URL: ws://h/ws -> http://h/lp.
 * @param {string} wsUrl
 */
export function longPollUrl(wsUrl) {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = u.pathname.replace(/\/ws$/, '') + '/lp';
  u.search = '';
  return u.toString();
}

/** How long requests may keep failing before the link counts as lost. */
const GIVE_UP_MS = 10000;

/** @implements {Link} */
export class LongPollLink {
  /** @param {string} url the /lp endpoint */
  constructor(url) {
    this.url = url;
    this.session = '';
    this.seq = 0;
    /** @type {{seq: number, text: string}[]} sent, not yet acked */
    this.unacked = [];
    this.ack = 0;
    this.sending = false;
    this.closed = false;
    this.abort = new AbortController();
    this.onmessage = (/** @type {string} */ _text) => {};
    this.onclose = (/** @type {string} */ _reason) => {};
  }

  async open() {
    const res = await fetch(this.url, { method: 'POST', signal: this.abort.signal });
    const body = await res.json().catch(() => ({}));
    if (!res.ok || !body.session) throw new Error(`long-poll open: ${res.status} ${body.code || ''}`);
    this.session = body.session;
    this.poll();
  }

  /** @param {string} query */
  endpoint(query = '') {
    return `${this.url}?session=${encodeURIComponent(this.session)}${query}`;
  }

  /** @param {string} text */
  send(text) {
    if (this.closed) return false;
    this.unacked.push({ seq: ++this.seq, text });
    this.flush();
    return true;
  }

  /** @private Posts everything unacked, again after a failure, until acked. */
  async flush() {
    if (this.sending) return;
    this.sending = true;
    let failingSince = 0;
    try {
      while (this.unacked.length && !this.closed) {
        const body = `{"messages":[${this.unacked.map((m) => `{"seq":${m.seq},"message":${m.text}}`).join(',')}]}`;
        const r = await this.request('POST', this.endpoint(), body);
        if (r.ok) {
          failingSince = 0;
          this.unacked = this.unacked.filter((m) => m.seq > r.body.ack);
          continue;
        }
        if (r.fatal) return this.fail(`long-poll send: ${r.status} ${r.body.code || ''}`);
        failingSince ||= Date.now();
        if (Date.now() - failingSince > GIVE_UP_MS) return this.fail('long-poll send failing');
        await pause(Math.min(1000, 50 * 2 ** Math.min(5, Math.floor((Date.now() - failingSince) / 200))));
      }
    } finally {
      this.sending = false;
    }
  }

  /** @private One held GET at a time; each server seq is delivered once. */
  async poll() {
    let failingSince = 0;
    while (!this.closed) {
      const r = await this.request('GET', this.endpoint(`&ack=${this.ack}&wait=20`));
      if (this.closed) return;
      if (!r.ok) {
        if (r.fatal) return this.fail(`long-poll: ${r.status} ${r.body.code || ''}`);
        failingSince ||= Date.now();
        if (Date.now() - failingSince > GIVE_UP_MS) return this.fail('long-poll polls failing');
        await pause(250);
        continue;
      }
      failingSince = 0;
      for (const e of r.body.messages || []) {
        if (e.seq <= this.ack) continue; // our last ack was lost: a repeat
        if (e.seq !== this.ack + 1) return this.fail(`long-poll seq jumped from ${this.ack} to ${e.seq}`);
        this.ack = e.seq;
        this.onmessage(JSON.stringify(e.message));
        if (this.closed) return;
      }
      if (r.body.closed) return this.fail('closed by the server');
    }
  }

  /**
   * @private
   * @param {string} method
   * @param {string} url
   * @param {string} [body]
   * @returns {Promise<{ok: boolean, fatal: boolean, status: number, body: any}>}
   */
  async request(method, url, body) {
    try {
      const res = await fetch(url, { method, body, signal: this.abort.signal, cache: 'no-store' });
      const json = await res.json().catch(() => ({}));
      // 4xx: the server does not know the session (or we broke the rules).
      return { ok: res.ok, fatal: res.status >= 400 && res.status < 500 && res.status !== 429, status: res.status, body: json };
    } catch {
      return { ok: false, fatal: false, status: 0, body: {} };
    }
  }

  /** @private @param {string} reason */
  fail(reason) {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.onclose(reason);
  }

  /** @param {number} code */
  close(code) {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    if (code === 1000 && this.session) {
      fetch(this.endpoint(), { method: 'DELETE', keepalive: true }).catch(() => {});
    }
  }
}

/** @param {number} ms */
function pause(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
