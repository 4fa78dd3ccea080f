// @ts-check
// Sending a file to one participant during a call, over the reliable data
// channel through the server. Protocol (topics of room.data messages):
//   file.offer    text, JSON {id, name, size, type}       sender -> receiver
//   file.chunk    binary, 4-byte id (big endian) + bytes   sender -> receiver
//   file.progress text, JSON {id, received}                receiver -> sender, every MiB and at the end
// Flow control is twofold: the browser's buffer (room.data.sendReliable
// waits on bufferedAmountLowThreshold) and a window of WINDOW unacknowledged
// bytes, below the server's per-receiver queue, so the server never has to
// slow the sender down and audio and video keep their share of the link.
// The page part adds a "send file" button to each remote face tile, a
// progress bar on both sides and a save link for the receiver.

import { Emitter } from './emitter.js';

export const CHUNK = 32 << 10;
/** the file is read in blocks of this size, each sent as CHUNK-sized messages */
const BLOCK = 1 << 20;
export const WINDOW = 4 << 20;
const ACK_EVERY = 1 << 20;
export const MAX_FILE = 100 * 1000 * 1000;

/**
 * @typedef {object} Transfer
 * @property {number} id
 * @property {'out' | 'in'} direction
 * @property {string} peer the other participant's SID
 * @property {string} name
 * @property {number} size
 * @property {number} done bytes acknowledged (out) or received (in)
 * @property {'running' | 'complete' | 'failed'} state
 * @property {string} [url] object URL of the received file
 * @property {Uint8Array[]} [chunks]
 * @property {number} [acked]
 * @property {() => void} [wake]
 */

/** @typedef {{progress: [Transfer]}} FileEvents */

/**
 * File transfers of one room.
 * @extends {Emitter<FileEvents>}
 */
export class FileTransfers extends Emitter {
  /** @param {import('./hibiki.js').Room} room */
  constructor(room) {
    super();
    this.room = room;
    this.nextId = (Math.random() * 0x7fffffff) >>> 0;
    /** @type {Map<string, Transfer>} `${peer}/${id}/${direction}` */
    this.transfers = new Map();
    this.off = room.data.on('message', (m) => this.onMessage(m));
  }

  /**
   * Sends file to the participant with SID peer.
   * @param {string} peer
   * @param {Blob & {name?: string}} file
   * @returns {Promise<Transfer>}
   */
  async send(peer, file) {
    if (file.size > MAX_FILE) throw new Error(`files are limited to ${MAX_FILE / 1e6} MB`);
    const data = this.room.data;
    const id = (this.nextId = (this.nextId + 1) >>> 0);
    /** @type {Transfer} */
    const t = { id, direction: 'out', peer, name: file.name || 'file', size: file.size, done: 0, acked: 0, state: 'running' };
    this.transfers.set(`${peer}/${id}/out`, t);
    this.emit('progress', t);
    const to = [peer];
    await data.sendReliable(JSON.stringify({ id, name: t.name, size: file.size, type: file.type }), { to, topic: 'file.offer' });
    try {
      for (let base = 0; base < file.size; base += BLOCK) {
        const block = new Uint8Array(await file.slice(base, base + BLOCK).arrayBuffer());
        for (let i = 0; i < block.length; i += CHUNK) {
          while (base + i - (t.acked || 0) >= WINDOW && t.state === 'running') {
            await new Promise((resolve) => { t.wake = () => resolve(undefined); });
          }
          if (t.state !== 'running') throw new Error('transfer aborted');
          const body = block.subarray(i, i + CHUNK);
          const msg = new Uint8Array(4 + body.length);
          new DataView(msg.buffer).setUint32(0, id);
          msg.set(body, 4);
          await data.sendReliable(msg, { to, topic: 'file.chunk' });
        }
      }
    } catch (err) {
      t.state = 'failed';
      this.emit('progress', t);
      throw err;
    }
    return t;
  }

  /**
   * @private
   * @param {import('./data.js').DataMessage} m
   */
  onMessage(m) {
    if (m.topic === 'file.offer' && typeof m.payload === 'string') {
      const o = JSON.parse(m.payload);
      /** @type {Transfer} */
      const t = { id: o.id >>> 0, direction: 'in', peer: m.from, name: String(o.name).slice(0, 200), size: Math.min(Number(o.size) || 0, MAX_FILE), done: 0, state: 'running', chunks: [], acked: 0 };
      this.transfers.set(`${m.from}/${t.id}/in`, t);
      this.emit('progress', t);
      if (t.size === 0) this.finish(t);
    } else if (m.topic === 'file.chunk' && typeof m.payload !== 'string' && m.payload.length >= 4) {
      const id = new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0);
      const t = this.transfers.get(`${m.from}/${id}/in`);
      if (!t || t.state !== 'running' || !t.chunks) return;
      t.chunks.push(m.payload.slice(4));
      t.done += m.payload.length - 4;
      if (t.done - (t.acked || 0) >= ACK_EVERY || t.done >= t.size) this.ack(t);
      if (t.done >= t.size) this.finish(t);
      else if (t.done - (t.acked || 0) < CHUNK) this.emit('progress', t);
    } else if (m.topic === 'file.progress' && typeof m.payload === 'string') {
      const p = JSON.parse(m.payload);
      const t = this.transfers.get(`${m.from}/${p.id >>> 0}/out`);
      if (!t) return;
      t.acked = t.done = Math.min(Number(p.received) || 0, t.size);
      if (t.done >= t.size) t.state = 'complete';
      t.wake?.();
      this.emit('progress', t);
    }
  }

  /**
   * @private
   * @param {Transfer} t
   */
  ack(t) {
    t.acked = t.done;
    this.room.data.sendReliable(JSON.stringify({ id: t.id, received: t.done }), { to: [t.peer], topic: 'file.progress' })
      .catch((e) => console.warn('hibiki: file progress', e));
    this.emit('progress', t);
  }

  /**
   * @private
   * @param {Transfer} t
   */
  finish(t) {
    t.state = 'complete';
    t.url = URL.createObjectURL(new Blob(/** @type {BlobPart[]} */ (t.chunks || [])));
    t.chunks = undefined;
    this.emit('progress', t);
  }

  close() {
    this.off();
    for (const t of this.transfers.values()) {
      if (t.state === 'running') t.state = 'failed';
      t.wake?.();
      if (t.url) URL.revokeObjectURL(t.url);
    }
  }
}

/**
 * The page part: a "send file" button on each remote face tile and a list
 * of transfers with progress bars and save links.
 */
export class FilesUI {
  /**
   * @param {FileTransfers} files
   * @param {HTMLElement} grid the tiles container
   * @param {(sid: string) => string} nameOf
   */
  constructor(files, grid, nameOf) {
    this.files = files;
    this.nameOf = nameOf;
    this.list = document.createElement('ul');
    this.list.id = 'transfers';
    this.list.className = 'transfers';
    grid.after(this.list);
    /** @type {Map<Transfer, HTMLLIElement>} */
    this.rows = new Map();
    this.off = files.on('progress', (t) => this.render(t));
    this.observer = new MutationObserver(() => this.decorate(grid));
    this.observer.observe(grid, { childList: true });
    this.decorate(grid);
  }

  /**
   * Adds the button to remote face tiles that lack it.
   * @private
   * @param {HTMLElement} grid
   */
  decorate(grid) {
    for (const tile of grid.querySelectorAll('.tile[data-kind="face"][data-local="false"]')) {
      const actions = tile.querySelector('.tile-actions');
      if (!actions || actions.querySelector('.send-file')) continue;
      const input = document.createElement('input');
      input.type = 'file';
      input.className = 'file-input';
      input.hidden = true;
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'send-file';
      btn.title = 'Send a file';
      btn.setAttribute('aria-label', 'Send a file');
      btn.textContent = 'File';
      btn.addEventListener('click', () => input.click());
      input.addEventListener('change', () => {
        const f = input.files?.[0];
        const sid = /** @type {HTMLElement} */ (tile).dataset.participantSid || '';
        input.value = '';
        if (f && sid) this.files.send(sid, f).catch((e) => console.warn('hibiki: send file', e));
      });
      actions.append(btn, input);
    }
  }

  /**
   * @private
   * @param {Transfer} t
   */
  render(t) {
    let row = this.rows.get(t);
    if (!row) {
      row = document.createElement('li');
      row.innerHTML = '<span class="label"></span> <progress max="1" value="0"></progress> <a class="save" hidden>Save</a>';
      this.rows.set(t, row);
      this.list.prepend(row);
    }
    row.dataset.direction = t.direction;
    row.dataset.state = t.state;
    row.dataset.done = String(t.done);
    const who = this.nameOf(t.peer);
    const label = /** @type {HTMLElement} */ (row.querySelector('.label'));
    label.textContent = `${t.direction === 'out' ? 'To' : 'From'} ${who}: ${t.name} (${(t.size / 1e6).toFixed(1)} MB)`;
    const bar = /** @type {HTMLProgressElement} */ (row.querySelector('progress'));
    bar.value = t.size ? t.done / t.size : 1;
    const a = /** @type {HTMLAnchorElement} */ (row.querySelector('a.save'));
    if (t.url) {
      a.href = t.url;
      a.download = t.name;
      a.hidden = false;
    }
  }

  close() {
    this.off();
    this.observer.disconnect();
    this.list.remove();
  }
}
