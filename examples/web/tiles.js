// @ts-check
// One tile of the conference grid: a video (or an avatar), the name, muted
// icons, speaking outline, a level ring that follows the audio level, the
// dominant-speaker mark, connection quality, the received resolution, size
// buttons, and for remote participants a volume and a pan slider. A tile
// reports its on-screen size so the page can call room.setVideoSize.

const MIC_OFF = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1A7 7 0 0 0 19 11z"/><path d="M3 3l18 18" stroke="currentColor" stroke-width="2.2"/></svg>';
const CAM_OFF = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 7a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2zm13 3l4-3v10l-4-3z"/><path d="M3 3l18 18" stroke="currentColor" stroke-width="2.2"/></svg>';

/**
 * @typedef {object} TileOptions
 * @property {string} key unique key in the grid
 * @property {string} participantSid
 * @property {string} name
 * @property {boolean} local
 * @property {'face' | 'stage'} kind face: a participant's camera; stage: screen or second camera, shown large
 * @property {(trackSid: string, width: number, height: number) => void} onSize
 * @property {(volume: number, pan: number) => void} [onAudio]
 */

export class Tile {
  /**
   * @param {HTMLTemplateElement} template
   * @param {TileOptions} o
   */
  constructor(template, o) {
    const root = /** @type {DocumentFragment} */ (template.content.cloneNode(true));
    this.el = /** @type {HTMLElement} */ (root.firstElementChild);
    this.o = o;
    this.trackSid = '';
    const q = (/** @type {string} */ sel) => /** @type {HTMLElement} */ (this.el.querySelector(sel));
    this.video = /** @type {HTMLVideoElement} */ (q('video.main'));
    this.pip = /** @type {HTMLVideoElement} */ (q('video.pip'));
    this.avatar = q('.avatar');
    this.nameEl = q('.name');
    this.micOff = q('.mic-off');
    this.camOff = q('.cam-off');
    this.resolution = q('.resolution');
    this.micOff.innerHTML = MIC_OFF;
    this.camOff.innerHTML = CAM_OFF;
    this.el.dataset.key = o.key;
    this.el.dataset.participantSid = o.participantSid;
    this.el.dataset.kind = o.kind;
    this.el.dataset.local = String(o.local);
    this.el.dataset.trackSid = '';
    this.el.dataset.dominant = 'false';
    this.el.dataset.featured = 'false';
    if (o.kind === 'stage') this.el.dataset.size = 'large';
    if (o.local) this.el.classList.add('local');
    this.setName(o.name);
    this.setVideo('', null);
    this.wireButtons();
    this.wireAudio();
    this.visible = true;
    this.resize = new ResizeObserver(() => this.reportSize());
    this.resize.observe(this.el);
    this.intersect = new IntersectionObserver((entries) => {
      this.visible = entries.some((e) => e.isIntersecting);
      this.reportSize();
    });
    this.intersect.observe(this.el);
  }

  /** @private */
  wireButtons() {
    this.el.querySelectorAll('.tile-actions button').forEach((b) => {
      b.addEventListener('click', () => {
        const action = /** @type {HTMLElement} */ (b).dataset.action || '';
        if (action === 'fullscreen') {
          if (document.fullscreenElement === this.el) document.exitFullscreen().catch(() => {});
          else this.el.requestFullscreen().catch(() => {});
          return;
        }
        this.el.dataset.size = action;
      });
    });
  }

  /** @private */
  wireAudio() {
    const onAudio = this.o.onAudio;
    if (this.o.local || this.o.kind !== 'face' || !onAudio) return;
    const vol = /** @type {HTMLInputElement} */ (this.el.querySelector('input.volume'));
    const pan = /** @type {HTMLInputElement} */ (this.el.querySelector('input.pan'));
    const apply = () => onAudio(Number(vol.value), Number(pan.value));
    vol.addEventListener('input', apply);
    pan.addEventListener('input', apply);
  }

  /** Reports the tile's size in device pixels (0x0 while scrolled out of view). */
  reportSize() {
    if (!this.trackSid || this.o.local) return;
    const dpr = window.devicePixelRatio || 1;
    const r = this.el.getBoundingClientRect();
    const w = this.visible ? Math.round(r.width * dpr) : 0;
    const h = this.visible ? Math.round(r.height * dpr) : 0;
    this.o.onSize(this.trackSid, w, h);
  }

  /** @param {string} name */
  setName(name) {
    this.nameEl.textContent = name + (this.o.local ? ' (you)' : '');
    this.avatar.textContent = (name.trim()[0] || '?').toUpperCase();
    this.el.dataset.name = name;
  }

  /** @param {string} sid */
  setParticipantSid(sid) {
    this.el.dataset.participantSid = sid;
  }

  /**
   * Shows a video track, or the avatar when stream is null.
   * @param {string} trackSid
   * @param {MediaStream | null} stream
   */
  setVideo(trackSid, stream) {
    this.trackSid = stream ? trackSid : '';
    this.el.dataset.trackSid = this.trackSid;
    if (this.video.srcObject !== stream) this.video.srcObject = stream;
    this.video.hidden = !stream;
    this.el.dataset.hasVideo = String(!!stream);
    if (stream) {
      this.video.play().catch(() => {});
      this.reportSize();
    } else {
      this.setResolution(0, 0);
    }
  }

  /**
   * Picture-in-picture of the presenter's face on a stage tile.
   * @param {MediaStream | null} stream
   */
  setPip(stream) {
    if (this.pip.srcObject !== stream) this.pip.srcObject = stream;
    this.pip.hidden = !stream;
    if (stream) this.pip.play().catch(() => {});
  }

  /** @param {boolean} on */
  showAudioControls(on) {
    const c = /** @type {HTMLElement} */ (this.el.querySelector('.audio-controls'));
    c.hidden = !on || this.o.local || this.o.kind !== 'face';
  }

  /** @param {boolean} muted */
  setMicMuted(muted) {
    this.micOff.hidden = !muted;
    this.el.dataset.micMuted = String(muted);
  }

  /** @param {boolean} off */
  setCamOff(off) {
    this.camOff.hidden = !off;
    this.el.dataset.camOff = String(off);
    this.el.classList.toggle('cam-is-off', off);
  }

  /** @param {boolean} on */
  setSpeaking(on) {
    this.el.dataset.speaking = String(on);
  }

  /** @param {boolean} on whether this participant is the room's dominant speaker */
  setDominant(on) {
    this.el.dataset.dominant = String(on);
  }

  /** @param {boolean} on shown large in the speaker layout */
  setFeatured(on) {
    if (this.el.dataset.featured === String(on)) return;
    this.el.dataset.featured = String(on);
  }

  /** @returns {boolean} */
  get featured() {
    return this.el.dataset.featured === 'true';
  }

  /**
   * Drives the level ring.
   * @param {number} level 0..1
   */
  setLevel(level) {
    const v = level.toFixed(1); // coarse steps: fewer style changes while someone talks
    if (this.el.dataset.level === v) return;
    this.el.style.setProperty('--level', v);
    this.el.dataset.level = v;
  }

  /** @param {string} q excellent, good, poor, lost or "" */
  setQuality(q) {
    this.el.dataset.quality = q;
  }

  /**
   * @param {number} w
   * @param {number} h
   */
  setResolution(w, h) {
    const text = w && h ? `${w}×${h}` : '';
    this.el.dataset.resolution = w && h ? `${w}x${h}` : '';
    if (this.resolution.textContent !== text) this.resolution.textContent = text;
  }

  remove() {
    this.trackSid = '';
    this.resize.disconnect();
    this.intersect.disconnect();
    this.video.srcObject = null;
    this.pip.srcObject = null;
    this.el.remove();
  }
}
