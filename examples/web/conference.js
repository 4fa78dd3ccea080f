// @ts-check
// The conference view: tiles for everyone, remote audio, and the stats
// panel, kept in step with the room's events. Used by app.js.

import { Room } from './hibiki.js';
import { Tile } from './tiles.js';
import { AudioMixer } from './audio.js';
import { Graph, formatBitrate } from './graphs.js';

/** @typedef {import('./hibiki.js').RemoteTrack} RemoteTrack */
/** @typedef {import('./hibiki.js').RemoteParticipant} RemoteParticipant */
/** @typedef {import('./hibiki.js').LocalTrack} LocalTrack */
/** @typedef {import('./hibiki.js').LiveStats} LiveStats */

/**
 * What a reload needs to join again as the same participant.
 * @typedef {{name: string, room: string, identity: string, camera: boolean, mic: boolean, simulcast: boolean, width?: number, height?: number, token?: string}} Session
 */

const SESSION_KEY = 'hibiki.session';
const LAYOUT_KEY = 'hibiki.layout';

/** @typedef {'grid' | 'speaker'} LayoutMode */

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return /** @type {T} */ (el);
}

/** @param {string} text */
function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(Number(t.dataset.timer));
  t.dataset.timer = String(setTimeout(() => { t.hidden = true; }, 4000));
}

/**
 * A camera track of another participant that is shown large (a second camera
 * is published with the name "camera-2"), as a screen share is.
 * @param {{kind: string, source: string, name: string}} t
 */
const isStage = (t) => t.kind === 'video' && (t.source === 'screen' || (t.source === 'camera' && t.name === 'camera-2'));

/** One joined room: its tiles, audio, controls and stats panel. */
class Conference {
  /**
   * @param {Room} room
   * @param {Session} session
   * @param {AudioContext} audio the context the room measures levels in, shared by the mixer
   */
  constructor(room, session, audio) {
    this.room = room;
    this.session = session;
    this.template = /** @type {HTMLTemplateElement} */ ($('tile-template'));
    this.grid = $('tiles');
    /** @type {Map<string, Tile>} face:<participantSid> or stage:<trackSid> */
    this.tiles = new Map();
    /** @type {Map<string, RemoteTrack>} participantSid → the camera shown on the face tile */
    this.faces = new Map();
    this.mixer = new AudioMixer($('audio-sinks'), audio);
    /** @type {{mic: LocalTrack | null, cam: LocalTrack | null, screen: LocalTrack | null, cam2: LocalTrack | null}} */
    this.pubs = { mic: null, cam: null, screen: null, cam2: null };
    this.graphs = {
      in: new Graph($('graph-in'), { color: '#3fb950', minMax: 100e3 }),
      out: new Graph($('graph-out'), { color: '#58a6ff', minMax: 100e3 }),
      loss: new Graph($('graph-loss'), { color: '#f85149', minMax: 1 }),
      rtt: new Graph($('graph-rtt'), { color: '#d29922', minMax: 10 }),
    };
    /** @type {Array<() => void>} */
    this.cleanups = [];
    this.pathShownAt = 0;
    /** @type {LayoutMode} */
    this.mode = sessionStorage.getItem(LAYOUT_KEY) === 'speaker' ? 'speaker' : 'grid';
    this.grid.dataset.layout = this.mode;
    /** the remote participant shown large in the speaker layout: the latest remote dominant speaker */
    this.featured = '';
    this.fit = new ResizeObserver(() => this.layout());
    this.fit.observe(this.grid);
    this.localTile = this.addTile('face:local', { participantSid: room.localParticipant.sid, name: session.name, local: true, kind: 'face' });
    this.wireRoom();
    for (const p of room.participants.values()) this.onJoined(p);
    this.updateHeader();
  }

  /**
   * @param {string} key
   * @param {{participantSid: string, name: string, local: boolean, kind: 'face' | 'stage'}} o
   */
  addTile(key, o) {
    const tile = new Tile(this.template, {
      key, ...o,
      onSize: (sid, w, h) => this.room.setVideoSize(sid, w, h),
      onAudio: (volume, pan) => this.mixer.set(o.participantSid, { volume, pan }),
    });
    this.tiles.set(key, tile);
    if (o.kind === 'stage') this.grid.prepend(tile.el);
    else this.grid.append(tile.el);
    this.grid.dataset.count = String(this.tiles.size);
    this.layout();
    return tile;
  }

  /**
   * Switches between the grid and the speaker layout, where the dominant
   * speaker's face is shown large.
   * @param {LayoutMode} mode
   */
  setLayout(mode) {
    this.mode = mode;
    this.grid.dataset.layout = mode;
    sessionStorage.setItem(LAYOUT_KEY, mode);
    this.layout();
  }

  /**
   * Marks the face tile shown large in the speaker layout: none while a
   * stage tile (screen, second camera) has the stage, else the latest
   * remote dominant speaker, else the first remote participant.
   * @param {Tile[]} tiles
   * @returns {boolean} whether a face is featured
   */
  markFeatured(tiles) {
    const faces = tiles.filter((t) => t.o.kind === 'face' && !t.o.local);
    let pick = null;
    if (this.mode === 'speaker' && !tiles.some((t) => t.o.kind === 'stage')) {
      pick = faces.find((t) => t.o.participantSid === this.featured) ?? faces[0] ?? null;
    }
    for (const t of tiles) t.setFeatured(t === pick);
    return pick !== null;
  }

  /**
   * Sizes the columns so that the face tiles are as large as the grid
   * allows at 16:9; a stage tile (screen, second camera, or the featured
   * speaker) takes the full width and about two thirds of the height above
   * them.
   */
  layout() {
    const style = getComputedStyle(this.grid);
    const gap = parseFloat(style.columnGap) || 0;
    const w = this.grid.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 1;
    let h = this.grid.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom) - 1;
    const tiles = [...this.tiles.values()];
    const featured = this.markFeatured(tiles);
    const stage = featured || tiles.some((t) => t.o.kind === 'stage');
    if (stage) {
      const stageH = Math.max(180, Math.round(h * 0.68));
      this.grid.style.setProperty('--stage-h', `${stageH}px`);
      h = Math.max(100, h - stageH - gap);
    }
    const n = Math.max(1, tiles.filter((t) => t.o.kind === 'face' && !t.featured).length);
    let best = { cols: 1, width: 0 };
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const width = Math.min((w - gap * (cols - 1)) / cols, ((h - gap * (rows - 1)) / rows) * (16 / 9));
      if (width > best.width) best = { cols, width };
    }
    const min = Math.min(w, 140);
    if (best.width < min) best = { cols: Math.max(1, Math.floor((w + gap) / (min + gap))), width: min };
    this.grid.style.setProperty('--tile-w', `${Math.floor(best.width)}px`);
  }

  /** @param {string} key */
  removeTile(key) {
    this.tiles.get(key)?.remove();
    this.tiles.delete(key);
    this.grid.dataset.count = String(this.tiles.size);
    this.layout();
  }

  wireRoom() {
    const r = this.room;
    const on = /** @type {typeof r.on} */ ((name, fn) => {
      const off = r.on(name, fn);
      this.cleanups.push(off);
      return off;
    });
    on('participantJoined', (p) => { this.onJoined(p); this.updateHeader(); });
    on('participantLeft', (p) => {
      if (this.featured === p.sid) this.featured = '';
      this.removeTile(`face:${p.sid}`);
      this.faces.delete(p.sid);
      this.updateHeader();
    });
    on('trackPublished', (t, p) => this.onMuted(t, p, t.muted));
    on('trackSubscribed', (t, p) => this.onSubscribed(t, p));
    on('trackUnsubscribed', (t, p) => this.onUnsubscribed(t, p));
    on('trackMuted', (t, p, muted) => this.onMuted(t, p, muted));
    on('activeSpeakersChanged', (sids) => {
      for (const tile of this.tiles.values()) {
        if (tile.o.kind === 'face') tile.setSpeaking(sids.includes(tile.el.dataset.participantSid || ''));
      }
    });
    on('dominantSpeakerChanged', (sid) => this.onDominant(sid));
    on('audioLevels', (levels) => {
      for (const tile of this.tiles.values()) {
        if (tile.o.kind === 'face') tile.setLevel(levels[tile.el.dataset.participantSid || ''] ?? 0);
      }
    });
    on('connectionStateChanged', (s) => {
      const el = $('conn-state');
      el.dataset.state = s;
      el.textContent = s === 'connected' ? (this.room.transport === 'longpoll' ? 'long-poll' : '') : s;
      el.title = this.room.transport ? `signaling over ${this.room.transport}` : '';
      document.body.dataset.transport = this.room.transport;
      if (s === 'connected') this.localTile.setParticipantSid(this.room.localParticipant.sid);
      document.body.dataset.connection = s;
    });
    on('subscriptionPaused', (t, paused) => {
      for (const tile of this.tiles.values()) if (tile.trackSid === t.sid) tile.el.dataset.paused = String(paused);
    });
    on('stats', (live) => this.onStats(live));
    on('error', (e) => { console.warn('hibiki:', e); toast(e.message); });
    on('joinRetry', (r) => toast(`Server busy, rejoining in ${(r.delayMs / 1000).toFixed(1)} s`));
    on('moved', (m) => toast(`Moved to another server (${m.reason})`));
  }

  /**
   * Marks the dominant speaker's tile, and features them (when remote) in
   * the speaker layout.
   * @param {string} sid
   */
  onDominant(sid) {
    for (const tile of this.tiles.values()) {
      if (tile.o.kind === 'face') tile.setDominant(!!sid && tile.el.dataset.participantSid === sid);
    }
    if (sid && sid !== this.room.localParticipant.sid && this.tiles.has(`face:${sid}`)) {
      this.featured = sid;
      this.layout();
    }
  }

  /** @param {RemoteParticipant} p */
  onJoined(p) {
    const key = `face:${p.sid}`;
    if (!this.tiles.has(key)) {
      this.addTile(key, { participantSid: p.sid, name: p.name || p.identity, local: false, kind: 'face' })
        .setDominant(p.sid === this.room.dominantSpeaker);
    }
    for (const t of p.tracks.values()) {
      this.onMuted(t, p, t.muted);
      if (t.subscribed) this.onSubscribed(t, p);
    }
  }

  /**
   * @param {RemoteTrack} t
   * @param {RemoteParticipant} p
   */
  onSubscribed(t, p) {
    const face = this.tiles.get(`face:${p.sid}`);
    if (!t.stream || !face) return;
    if (t.kind === 'audio') {
      this.mixer.attach(p.sid, t.sid, t.stream);
      face.showAudioControls(true);
    } else if (isStage(t)) {
      const tile = this.tiles.get(`stage:${t.sid}`)
        || this.addTile(`stage:${t.sid}`, { participantSid: p.sid, name: `${p.name} · ${t.source === 'screen' ? 'screen' : t.name}`, local: false, kind: 'stage' });
      tile.setVideo(t.sid, t.stream);
      tile.setPip(this.faces.get(p.sid)?.stream ?? null);
    } else {
      this.faces.set(p.sid, t);
      face.setVideo(t.sid, t.stream);
      face.setCamOff(t.muted);
      this.updatePips(p.sid);
    }
    face.setName(p.name || p.identity);
  }

  /**
   * @param {RemoteTrack} t
   * @param {RemoteParticipant} p
   */
  onUnsubscribed(t, p) {
    const face = this.tiles.get(`face:${p.sid}`);
    if (t.kind === 'audio') {
      this.mixer.detach(t.sid);
      face?.showAudioControls(this.mixer.hasAudio(p.sid));
    } else if (this.tiles.has(`stage:${t.sid}`)) {
      this.removeTile(`stage:${t.sid}`);
    } else if (this.faces.get(p.sid) === t) {
      this.faces.delete(p.sid);
      face?.setVideo('', null);
      this.updatePips(p.sid);
    }
  }

  /**
   * @param {RemoteTrack} t
   * @param {RemoteParticipant} p
   * @param {boolean} muted
   */
  onMuted(t, p, muted) {
    const face = this.tiles.get(`face:${p.sid}`);
    if (t.kind === 'audio' && t.source === 'microphone') face?.setMicMuted(muted);
    else if (isStage(t)) this.tiles.get(`stage:${t.sid}`)?.setCamOff(muted);
    else if (t.kind === 'video') face?.setCamOff(muted);
  }

  /** @param {string} participantSid */
  updatePips(participantSid) {
    const stream = this.faces.get(participantSid)?.stream ?? null;
    for (const tile of this.tiles.values()) {
      if (tile.o.kind === 'stage' && !tile.o.local && tile.o.participantSid === participantSid) tile.setPip(stream);
    }
  }

  updateHeader() {
    $('room-name').textContent = this.room.roomName || this.session.room;
    const n = this.room.participants.size + 1;
    const el = $('participant-count');
    el.textContent = `${n} participant${n === 1 ? '' : 's'}`;
    el.dataset.count = String(n);
  }

  /** @param {LiveStats} live */
  onStats(live) {
    for (const tile of this.tiles.values()) {
      if (tile.o.local) {
        tile.setQuality(live.rtt > 300 ? 'poor' : 'excellent');
        continue;
      }
      let q = tile.trackSid ? live.tracks[tile.trackSid] : undefined;
      if (tile.o.kind === 'face' && !q) {
        const p = this.room.participants.get(tile.o.participantSid);
        const audio = p && [...p.tracks.values()].find((t) => t.kind === 'audio' && t.subscribed);
        q = audio ? live.tracks[audio.sid] : undefined;
        tile.setResolution(0, 0);
      } else if (q) {
        tile.setResolution(q.width, q.height);
      }
      tile.setQuality(q ? q.quality : '');
    }
    this.graphs.in.push(live.bitrateIn);
    this.graphs.out.push(live.bitrateOut);
    this.graphs.loss.push(live.lossIn);
    this.graphs.rtt.push(live.rtt);
    if ($('stats-panel').hidden) return;
    for (const g of Object.values(this.graphs)) g.draw();
    $('val-in').textContent = formatBitrate(live.bitrateIn);
    $('val-out').textContent = formatBitrate(live.bitrateOut);
    $('val-loss').textContent = `${live.lossIn.toFixed(1)} %`;
    $('val-rtt').textContent = `${Math.round(live.rtt)} ms`;
    if (live.time - this.pathShownAt > 2000) {
      this.pathShownAt = live.time;
      this.showPath().catch(() => {});
    }
  }

  /** Shows the selected candidate pair of each connection in the stats panel. */
  async showPath() {
    const s = await this.room.statsSummary();
    const line = (/** @type {string} */ name, /** @type {import('./hibiki.js').TransportSummary | null} */ t) => {
      const p = t?.candidatePair;
      return p ? `${name}: ${p.local} → ${p.remote} (${p.protocol} ${p.localType})` : `${name}: ${t?.connectionState ?? 'none'}`;
    };
    $('stats-path').textContent = `${line('publish', s.publish)}\n${line('subscribe', s.subscribe)}`;
  }

  /** Shows the local camera (and the second camera / screen) as previews. */
  refreshLocal() {
    const { cam, screen, cam2 } = this.pubs;
    const shown = /** @type {MediaStream | null} */ (this.localTile.video.srcObject);
    if (!cam) this.localTile.setVideo('', null);
    else if (shown?.getVideoTracks()[0] !== cam.track) this.localTile.setVideo(cam.sid || 'local', new MediaStream([cam.track]));
    this.localTile.setCamOff(!cam || cam.muted);
    this.localTile.setMicMuted(!this.pubs.mic || this.pubs.mic.muted);
    const faceStream = /** @type {MediaStream | null} */ (this.localTile.video.srcObject);
    for (const [key, pub, label] of /** @type {const} */ ([['stage:local-screen', screen, 'screen'], ['stage:local-cam2', cam2, 'camera 2']])) {
      if (!pub) {
        this.removeTile(key);
        continue;
      }
      const tile = this.tiles.get(key)
        || this.addTile(key, { participantSid: this.room.localParticipant.sid, name: `${this.session.name} · ${label}`, local: true, kind: 'stage' });
      if (tile.video.srcObject === null || /** @type {MediaStream} */ (tile.video.srcObject).getTracks()[0] !== pub.track) {
        tile.setVideo(pub.sid, new MediaStream([pub.track]));
      }
      tile.setPip(faceStream);
    }
    const published = Object.entries(this.pubs).filter(([, v]) => v).map(([k]) => k);
    document.body.dataset.published = published.join(' ');
  }

  close() {
    this.fit.disconnect();
    for (const off of this.cleanups) off();
    for (const key of [...this.tiles.keys()]) this.removeTile(key);
    this.mixer.close();
  }
}

export { Conference, $, toast, isStage, SESSION_KEY };
