// @ts-check
// A small game mode: every player moves a dot with the arrow keys; positions
// travel over the lossy data channel (each one replaces the last, so a lost
// one is not worth resending); and every voice is panned and attenuated by
// the distance between the listener's dot and the speaker's (positional
// audio through the page's WebAudio mixer).

const TOPIC = 'game.pos';
const SEND_EVERY_MS = 50;
const KEEPALIVE_MS = 1000;
const STEP = 0.01;

/**
 * Gain and stereo pan of a voice at (x, y) heard from (lx, ly); positions
 * are in the unit square.
 * @param {number} lx
 * @param {number} ly
 * @param {number} x
 * @param {number} y
 * @returns {{volume: number, pan: number}}
 */
export function positional(lx, ly, x, y) {
  const d = Math.hypot(x - lx, y - ly);
  return { volume: 1 / (1 + (d * 4) ** 2), pan: Math.max(-1, Math.min(1, (x - lx) * 2)) };
}

export class Game {
  /**
   * @param {import('./hibiki.js').Room} room
   * @param {import('./audio.js').AudioMixer} mixer
   * @param {HTMLElement} parent where the board goes
   */
  constructor(room, mixer, parent) {
    this.room = room;
    this.mixer = mixer;
    this.me = { x: 0.2 + Math.random() * 0.6, y: 0.2 + Math.random() * 0.6 };
    /** @type {Map<string, {x: number, y: number, at: number}>} by participant SID */
    this.others = new Map();
    /** @type {Set<string>} keys held down */
    this.keys = new Set();
    this.lastSent = 0;
    this.dirty = true;
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'game-board';
    this.canvas.width = this.canvas.height = 320;
    this.canvas.hidden = true;
    parent.append(this.canvas);
    this.on = false;
    this.frame = 0;
    this.offMessage = room.data.on('message', (m) => this.onMessage(m));
    this.offLeft = room.on('participantLeft', (p) => { this.others.delete(p.sid); });
    this.onKey = (/** @type {KeyboardEvent} */ ev) => {
      if (!ev.key.startsWith('Arrow')) return;
      ev.preventDefault();
      if (ev.type === 'keydown') this.keys.add(ev.key);
      else this.keys.delete(ev.key);
    };
  }

  /** @param {boolean} on */
  toggle(on) {
    this.on = on;
    this.canvas.hidden = !on;
    if (on) {
      addEventListener('keydown', this.onKey);
      addEventListener('keyup', this.onKey);
      this.dirty = true;
      this.frame = requestAnimationFrame(() => this.tick());
    } else {
      removeEventListener('keydown', this.onKey);
      removeEventListener('keyup', this.onKey);
      cancelAnimationFrame(this.frame);
      for (const sid of this.others.keys()) this.mixer.set(sid, { volume: 1, pan: 0 });
    }
  }

  /** @private */
  tick() {
    if (!this.on) return;
    const k = this.keys;
    const dx = (k.has('ArrowRight') ? 1 : 0) - (k.has('ArrowLeft') ? 1 : 0);
    const dy = (k.has('ArrowDown') ? 1 : 0) - (k.has('ArrowUp') ? 1 : 0);
    if (dx || dy) {
      this.me.x = Math.max(0, Math.min(1, this.me.x + dx * STEP));
      this.me.y = Math.max(0, Math.min(1, this.me.y + dy * STEP));
      this.dirty = true;
    }
    const now = performance.now();
    if ((this.dirty && now - this.lastSent >= SEND_EVERY_MS) || now - this.lastSent >= KEEPALIVE_MS) this.sendPosition(now);
    this.applyAudio();
    this.draw();
    this.frame = requestAnimationFrame(() => this.tick());
  }

  /**
   * @private
   * @param {number} now
   */
  sendPosition(now) {
    if (!this.room.data.ready) return;
    const b = new Uint8Array(8);
    const v = new DataView(b.buffer);
    v.setFloat32(0, this.me.x);
    v.setFloat32(4, this.me.y);
    try {
      this.room.data.send(b, { topic: TOPIC, lossy: true });
      this.lastSent = now;
      this.dirty = false;
    } catch (err) {
      console.warn('hibiki: game position', err);
    }
  }

  /**
   * @private
   * @param {import('./data.js').DataMessage} m
   */
  onMessage(m) {
    if (m.topic !== TOPIC || typeof m.payload === 'string' || m.payload.length !== 8) return;
    const v = new DataView(m.payload.buffer, m.payload.byteOffset, 8);
    const x = v.getFloat32(0);
    const y = v.getFloat32(4);
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    this.others.set(m.from, { x: Math.max(0, Math.min(1, x)), y: Math.max(0, Math.min(1, y)), at: performance.now() });
  }

  /** @private Pans and attenuates every voice by its dot's distance. */
  applyAudio() {
    for (const [sid, o] of this.others) this.mixer.set(sid, positional(this.me.x, this.me.y, o.x, o.y));
  }

  /** @private */
  draw() {
    const c = this.canvas.getContext('2d');
    if (!c) return;
    const s = this.canvas.width;
    c.fillStyle = '#0d1117';
    c.fillRect(0, 0, s, s);
    const dot = (/** @type {number} */ x, /** @type {number} */ y, /** @type {string} */ color, /** @type {string} */ label) => {
      c.fillStyle = color;
      c.beginPath();
      c.arc(x * s, y * s, 8, 0, 2 * Math.PI);
      c.fill();
      c.fillStyle = '#e6edf3';
      c.fillText(label, x * s + 10, y * s + 4);
    };
    for (const [sid, o] of this.others) dot(o.x, o.y, '#3fb950', this.room.participants.get(sid)?.name || sid.slice(0, 6));
    dot(this.me.x, this.me.y, '#1f6feb', 'you');
  }

  close() {
    this.toggle(false);
    this.offMessage();
    this.offLeft();
    this.canvas.remove();
  }
}
