// @ts-check
// Data messages through the server (docs/protocol.md "Data channels"). The
// server opens two channels on the subscribe connection, "reliable"
// (ordered) and "lossy" (unordered, no retransmission); the client sends on
// the same two. Every message is a binary envelope: the sender names the
// receivers (none: the whole room) and a topic, the server adds the
// sender's SID. Errors about a message come back as error envelopes that
// carry the message's sequence number.

import { Emitter } from './emitter.js';

const SEND = 1;
const DELIVER = 2;
const ERROR = 3;
const FLAG_TEXT = 1;
const MAX_TOPIC = 64;

/** Flow control of the reliable channel: pause above HIGH, resume below LOW. */
export const HIGH_WATER = 4 << 20;
export const LOW_WATER = 1 << 20;

const utf8 = new TextEncoder();
const text = new TextDecoder();

/**
 * @typedef {object} SendOptions
 * @property {string[]} [to] participant SIDs; empty or absent: everyone else
 * @property {string} [topic] at most 64 bytes, lets an app tell its kinds of message apart
 * @property {boolean} [lossy] unordered and never retransmitted: positions, cursors
 */

/**
 * @typedef {object} DataMessage
 * @property {string} from sender's participant SID
 * @property {string} topic
 * @property {Uint8Array | string} payload a string when the sender sent a string
 * @property {boolean} lossy
 */

/** @typedef {{seq: number, code: string, message: string}} DataError */

/**
 * @typedef {object} DataEvents
 * @property {[DataMessage]} message
 * @property {[DataError]} error the server refused a message
 * @property {[]} open both channels are open
 * @property {[string]} close a channel closed (its label); "reliable" alone means the server found us too slow
 */

/**
 * Encodes a send envelope.
 * @param {number} seq
 * @param {Uint8Array | string} payload
 * @param {SendOptions} opts
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function encodeSend(seq, payload, opts = {}) {
  const topic = utf8.encode(opts.topic || '');
  if (topic.length > MAX_TOPIC) throw new Error(`topic longer than ${MAX_TOPIC} bytes`);
  const to = (opts.to || []).map((s) => utf8.encode(s));
  if (to.length > 255 || to.some((s) => s.length === 0 || s.length > 64)) throw new Error('bad destination list');
  const body = typeof payload === 'string' ? utf8.encode(payload) : payload;
  const head = 6 + 1 + topic.length + 1 + to.reduce((n, s) => n + 1 + s.length, 0);
  const out = new Uint8Array(head + body.length);
  const view = new DataView(out.buffer);
  out[0] = SEND;
  out[1] = typeof payload === 'string' ? FLAG_TEXT : 0;
  view.setUint32(2, seq >>> 0);
  let o = 6;
  out[o++] = topic.length;
  out.set(topic, o);
  o += topic.length;
  out[o++] = to.length;
  for (const s of to) {
    out[o++] = s.length;
    out.set(s, o);
    o += s.length;
  }
  out.set(body, o);
  return out;
}

/**
 * Decodes a server envelope; null when it is malformed.
 * @param {ArrayBuffer} buf
 * @returns {{kind: 'deliver', from: string, topic: string, payload: Uint8Array | string} | {kind: 'error', seq: number, code: string, message: string} | null}
 */
export function decodeServer(buf) {
  const b = new Uint8Array(buf);
  if (b.length < 2) return null;
  if (b[0] === DELIVER) {
    let o = 2;
    const fromLen = b[o++];
    if (b.length < o + fromLen + 1) return null;
    const from = text.decode(b.subarray(o, o + fromLen));
    o += fromLen;
    const topicLen = b[o++];
    if (b.length < o + topicLen) return null;
    const topic = text.decode(b.subarray(o, o + topicLen));
    o += topicLen;
    const body = b.subarray(o);
    return { kind: 'deliver', from, topic, payload: b[1] & FLAG_TEXT ? text.decode(body) : body };
  }
  if (b[0] === ERROR && b.length >= 7) {
    const seq = new DataView(buf).getUint32(2);
    const codeLen = b[6];
    if (b.length < 7 + codeLen) return null;
    return { kind: 'error', seq, code: text.decode(b.subarray(7, 7 + codeLen)), message: text.decode(b.subarray(7 + codeLen)) };
  }
  return null;
}

/**
 * The room's data channels. `room.data` is one; it re-attaches to the new
 * subscribe connection after a reconnect.
 * @extends {Emitter<DataEvents>}
 */
export class DataChannels extends Emitter {
  constructor() {
    super();
    /** @type {{reliable: RTCDataChannel | null, lossy: RTCDataChannel | null}} */
    this.channels = { reliable: null, lossy: null };
    this.seq = 0;
    /** largest payload the server accepts (from `joined`), 0 when unknown */
    this.maxSize = 0;
    /** @type {Array<() => void>} waiting for the reliable buffer to drain */
    this.waiters = [];
  }

  /**
   * Adopts the channels the server opens on pc.
   * @param {RTCPeerConnection} pc the subscribe connection
   */
  attach(pc) {
    pc.addEventListener('datachannel', (ev) => this.adopt(ev.channel));
  }

  /**
   * @private
   * @param {RTCDataChannel} dc
   */
  adopt(dc) {
    const label = dc.label;
    if (label !== 'reliable' && label !== 'lossy') return;
    dc.binaryType = 'arraybuffer';
    if (label === 'reliable') {
      dc.bufferedAmountLowThreshold = LOW_WATER;
      dc.onbufferedamountlow = () => this.wakeWriters();
    }
    dc.onopen = () => {
      this.channels[label] = dc;
      if (this.ready) this.emit('open');
    };
    if (dc.readyState === 'open') this.channels[label] = dc;
    dc.onclose = () => {
      if (this.channels[label] === dc) this.channels[label] = null;
      this.wakeWriters();
      this.emit('close', label);
    };
    dc.onmessage = (ev) => {
      const m = decodeServer(ev.data);
      if (!m) return;
      if (m.kind === 'error') this.emit('error', { seq: m.seq, code: m.code, message: m.message });
      else this.emit('message', { from: m.from, topic: m.topic, payload: m.payload, lossy: label === 'lossy' });
    };
    if (this.ready) this.emit('open');
  }

  /** @private */
  wakeWriters() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Both channels are open. */
  get ready() {
    return this.channels.reliable?.readyState === 'open' && this.channels.lossy?.readyState === 'open';
  }

  /** Bytes waiting in the reliable channel. */
  get bufferedAmount() {
    return this.channels.reliable?.bufferedAmount ?? 0;
  }

  /**
   * Sends now, without flow control; returns the message's sequence number.
   * Lossy messages are meant for state that the next message replaces.
   * @param {Uint8Array | string} payload
   * @param {SendOptions} [opts]
   * @returns {number}
   */
  send(payload, opts = {}) {
    const dc = this.channels[opts.lossy ? 'lossy' : 'reliable'];
    if (!dc || dc.readyState !== 'open') throw new Error(`data channel ${opts.lossy ? 'lossy' : 'reliable'} not open`);
    const size = typeof payload === 'string' ? utf8.encode(payload).length : payload.length;
    if (this.maxSize && size > this.maxSize) throw new Error(`payload of ${size} bytes exceeds the server's ${this.maxSize} byte limit`);
    this.seq = (this.seq + 1) >>> 0;
    dc.send(encodeSend(this.seq, payload, opts));
    return this.seq;
  }

  /**
   * Sends a reliable message once the channel's buffer is below HIGH_WATER:
   * bulk senders (files) await it so the browser never holds more than a
   * few MiB and audio and video keep their share of the connection.
   * @param {Uint8Array | string} payload
   * @param {SendOptions} [opts]
   * @returns {Promise<number>}
   */
  async sendReliable(payload, opts = {}) {
    while (this.channels.reliable && this.bufferedAmount > HIGH_WATER) {
      await new Promise((resolve) => this.waiters.push(() => resolve(undefined)));
    }
    return this.send(payload, { ...opts, lossy: false });
  }

  /** Closes the channels (the connection is going away). */
  detach() {
    for (const label of /** @type {const} */ (['reliable', 'lossy'])) {
      this.channels[label]?.close();
      this.channels[label] = null;
    }
    this.wakeWriters();
  }
}
