// @ts-check
// The conference page's entry point: the join form, the controls bar and the
// session kept in sessionStorage so that a reload joins again as the same
// participant. It uses only the public API of hibiki.js; tests reach the room
// through window.hibikiRoom and the page through window.hibikiApp.

import { Room } from './hibiki.js';
import { Conference, $, toast, SESSION_KEY } from './conference.js';
import { attachDataFeatures } from './features.js';
import { Lobby, LobbyUI } from './lobby.js';

/** @typedef {import('./conference.js').Session} Session */
/** @typedef {import('./hibiki.js').LocalTrack} LocalTrack */

/** @type {any} */
const testHooks = window;

/** @type {Conference | null} */
let conf = null;
/** @type {AudioContext | null} */
let audio = null;
/** @type {(() => void) | null} */
let detachData = null;
/** @type {Lobby | null} */
let lobby = null;
const IDENTITY_KEY = 'hibiki.identity';

/** @returns {Session | null} */
function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    return s && s.name && s.room && s.identity ? s : null;
  } catch {
    return null;
  }
}

/** @param {string} name */
function newIdentity(name) {
  const base = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 24) || 'guest';
  return `${base}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * @param {Session} s
 * @returns {Promise<string>}
 */
async function fetchToken(s) {
  const q = new URLSearchParams({ room: s.room, identity: s.identity, name: s.name });
  const res = await fetch(`/dev/token?${q}`);
  if (!res.ok) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  const body = await res.json();
  if (!body.token) throw new Error('token request returned no token');
  return body.token;
}

/** @param {'lobby' | 'conference'} view */
function show(view) {
  document.body.dataset.view = view;
  $('lobby').hidden = view !== 'lobby';
  $('conference').hidden = view !== 'conference';
}

/** @param {Session} s */
async function join(s) {
  $('join-error').textContent = '';
  const btn = /** @type {HTMLButtonElement} */ ($('join'));
  btn.disabled = true;
  try {
    const token = s.token || await fetchToken(s);
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    audio = new AudioContext();
    const room = await Room.connect(url, token, {
      audioContext: audio, refreshToken: () => fetchToken(s),
      // A cluster whose Redis is down cannot place the room yet: say so while the join is retried.
      on: { joinRetry: (r) => { $('join-error').textContent = `Server busy, retrying in ${(r.delayMs / 1000).toFixed(1)} s (${r.attempt}/${r.retries})`; } },
    });
    $('join-error').textContent = '';
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
    const q = new URLSearchParams(location.search);
    q.set('room', s.room);
    q.delete('autojoin');
    history.replaceState(null, '', `?${q}`);
    testHooks.hibikiRoom = room;
    show('conference');
    conf = new Conference(room, s, audio);
    detachData = attachDataFeatures(conf);
    document.body.dataset.joined = 'true';
    // Which signaling transport works here (long-poll shows as a warning).
    document.body.dataset.transport = room.transport;
    $('conn-state').textContent = room.transport === 'longpoll' ? 'long-poll' : '';
    $('conn-state').title = `signaling over ${room.transport}`;
    room.on('connectionStateChanged', (state) => {
      if (state === 'disconnected' && conf?.room === room) toast('Disconnected');
    });
    room.on('removed', (reason) => { if (conf?.room === room) removed(reason); });
    room.on('localTrackMuted', () => {
      conf?.refreshLocal();
      syncButtons();
    });
    syncLayoutButton();
    await publishInitial(conf, s);
    await fillDevices();
  } catch (err) {
    console.error(err);
    audio?.close().catch(() => {});
    $('join-error').textContent = err instanceof Error ? err.message : String(err);
    show('lobby');
  } finally {
    btn.disabled = false;
  }
}

/**
 * @param {Conference} c
 * @param {Session} s
 */
async function publishInitial(c, s) {
  if (s.camera) {
    try {
      c.pubs.cam = await c.room.publishCamera({ simulcast: s.simulcast, width: s.width, height: s.height });
    } catch (err) {
      toast(`Camera: ${err instanceof Error ? err.message : err}`);
    }
  }
  if (s.mic) {
    try {
      c.pubs.mic = await c.room.publishMicrophone();
    } catch (err) {
      toast(`Microphone: ${err instanceof Error ? err.message : err}`);
    }
  }
  c.room.on('localTrackUnpublished', (lt) => {
    for (const k of /** @type {const} */ (['mic', 'cam', 'screen', 'cam2'])) if (c.pubs[k] === lt) c.pubs[k] = null;
    c.refreshLocal();
    syncButtons();
  });
  c.refreshLocal();
  syncButtons();
}

async function leave() {
  const c = conf;
  conf = null;
  sessionStorage.removeItem(SESSION_KEY);
  testHooks.hibikiRoom = null;
  document.body.dataset.joined = 'false';
  detachData?.();
  detachData = null;
  if (c) {
    c.close();
    await c.room.leave();
  }
  show('lobby');
}

/**
 * The server ended the session (the same identity joined elsewhere, the
 * room closed, …): back to the lobby with the reason, and no automatic
 * re-join on reload.
 * @param {string} reason
 */
function removed(reason) {
  const c = conf;
  conf = null;
  sessionStorage.removeItem(SESSION_KEY);
  testHooks.hibikiRoom = null;
  document.body.dataset.joined = 'false';
  detachData?.();
  detachData = null;
  c?.close();
  show('lobby');
  $('join-error').textContent = `Removed from the room: ${reason}`;
}

function syncLayoutButton() {
  const speaker = conf?.mode === 'speaker';
  const b = $('btn-layout');
  b.setAttribute('aria-pressed', String(speaker));
  b.textContent = speaker ? 'Grid view' : 'Speaker view';
}

function syncButtons() {
  const p = conf?.pubs;
  /**
   * @param {string} id
   * @param {boolean} pressed
   * @param {string} label
   */
  const set = (id, pressed, label) => {
    const b = $(id);
    b.setAttribute('aria-pressed', String(pressed));
    b.textContent = label;
  };
  set('btn-mic', !p?.mic || p.mic.muted, !p?.mic || p.mic.muted ? 'Unmute' : 'Mute');
  set('btn-cam', !p?.cam || p.cam.muted, !p?.cam || p.cam.muted ? 'Cam on' : 'Cam off');
  set('btn-screen', !!p?.screen, p?.screen ? 'Stop share' : 'Share');
  set('btn-cam2', !!p?.cam2, p?.cam2 ? 'Stop 2nd' : '2nd cam');
}

/**
 * @param {() => Promise<unknown>} fn
 * @returns {() => void}
 */
const guarded = (fn) => () => {
  conf?.mixer.resume();
  fn().catch((err) => toast(err instanceof Error ? err.message : String(err))).finally(() => {
    conf?.refreshLocal();
    syncButtons();
  });
};

/**
 * Mutes the published track of that kind, or publishes one if there is none.
 * @param {'mic' | 'cam'} which
 */
async function toggle(which) {
  if (!conf) return;
  const pub = conf.pubs[which];
  if (pub) {
    await conf.room.setMuted(pub, !pub.muted);
    return;
  }
  conf.pubs[which] = which === 'mic'
    ? await conf.room.publishMicrophone()
    : await conf.room.publishCamera({ simulcast: conf.session.simulcast, width: conf.session.width, height: conf.session.height });
}

async function toggleScreen() {
  if (!conf) return;
  if (conf.pubs.screen) {
    await conf.room.unpublish(conf.pubs.screen);
    conf.pubs.screen = null;
    return;
  }
  conf.pubs.screen = await conf.room.publishScreen();
}

async function toggleSecondCamera() {
  if (!conf) return;
  if (conf.pubs.cam2) {
    await conf.room.unpublish(conf.pubs.cam2);
    conf.pubs.cam2 = null;
    return;
  }
  const cams = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
  const current = conf.pubs.cam?.track.getSettings().deviceId;
  const other = cams.find((d) => d.deviceId && d.deviceId !== current);
  conf.pubs.cam2 = await conf.room.publishCamera({ name: 'camera-2', deviceId: other?.deviceId, simulcast: conf.session.simulcast });
}

/** Lists cameras and microphones in the two selects. */
async function fillDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [id, kind, which] of /** @type {const} */ ([['select-mic', 'audioinput', 'mic'], ['select-cam', 'videoinput', 'cam']])) {
    const sel = /** @type {HTMLSelectElement} */ ($(id));
    const current = conf?.pubs[which]?.track.getSettings().deviceId || '';
    sel.replaceChildren(...devices.filter((d) => d.kind === kind).map((d, i) => {
      const o = document.createElement('option');
      o.value = d.deviceId;
      o.textContent = d.label || `${kind === 'audioinput' ? 'Microphone' : 'Camera'} ${i + 1}`;
      o.selected = d.deviceId === current;
      return o;
    }));
    sel.hidden = sel.options.length < 2;
  }
}

/** @param {'mic' | 'cam'} which */
function onDeviceChange(which) {
  return guarded(async () => {
    const pub = conf?.pubs[which];
    const sel = /** @type {HTMLSelectElement} */ ($(which === 'mic' ? 'select-mic' : 'select-cam'));
    if (conf && pub) await conf.room.switchDevice(pub, sel.value);
  });
}

function wireControls() {
  $('btn-mic').addEventListener('click', guarded(() => toggle('mic')));
  $('btn-cam').addEventListener('click', guarded(() => toggle('cam')));
  $('btn-screen').addEventListener('click', guarded(toggleScreen));
  $('btn-cam2').addEventListener('click', guarded(toggleSecondCamera));
  $('btn-leave').addEventListener('click', guarded(leave));
  $('btn-layout').addEventListener('click', () => {
    conf?.setLayout(conf.mode === 'speaker' ? 'grid' : 'speaker');
    syncLayoutButton();
  });
  $('btn-stats').addEventListener('click', () => {
    const panel = $('stats-panel');
    panel.hidden = !panel.hidden;
    $('btn-stats').setAttribute('aria-pressed', String(!panel.hidden));
  });
  $('select-mic').addEventListener('change', onDeviceChange('mic'));
  $('select-cam').addEventListener('change', onDeviceChange('cam'));
  navigator.mediaDevices?.addEventListener('devicechange', () => { fillDevices().catch(() => {}); });
  document.addEventListener('click', () => conf?.mixer.resume());
  $('join-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = /** @type {HTMLInputElement} */ ($('name')).value.trim();
    const room = /** @type {HTMLInputElement} */ ($('room')).value.trim();
    const checked = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id)).checked;
    join({
      name, room, identity: lobby?.self?.identity || newIdentity(name),
      camera: checked('opt-camera'), mic: checked('opt-mic'), simulcast: checked('opt-simulcast'),
    });
  });
}

/**
 * Enters the lobby as name: the online list and invites appear under the
 * join form; an accepted invite joins the call room the server made.
 * @param {string} name
 */
async function goOnline(name) {
  if (lobby || !name) return;
  const identity = sessionStorage.getItem(IDENTITY_KEY) || newIdentity(name);
  sessionStorage.setItem(IDENTITY_KEY, identity);
  const token = await fetchToken({ name, identity, room: 'lobby', camera: false, mic: false, simulcast: false });
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const l = await Lobby.connect(url, token);
  lobby = l;
  testHooks.hibikiLobby = l;
  document.body.dataset.online = 'true';
  const form = $('join-form');
  new LobbyUI(l, /** @type {HTMLElement} */ (form.parentElement), (room, tok) => {
    const checked = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id)).checked;
    if (conf) leave().catch(() => {});
    join({ name, room, identity, token: tok, camera: checked('opt-camera'), mic: checked('opt-mic'), simulcast: checked('opt-simulcast') });
  });
  l.on('closed', () => { lobby = null; document.body.dataset.online = 'false'; });
}

function start() {
  wireControls();
  $('btn-online').addEventListener('click', () => {
    const name = /** @type {HTMLInputElement} */ ($('name')).value.trim();
    goOnline(name).catch((err) => { $('join-error').textContent = err instanceof Error ? err.message : String(err); });
  });
  const q = new URLSearchParams(location.search);
  /** @type {HTMLInputElement} */ ($('room')).value = q.get('room') || 'demo';
  /** @type {HTMLInputElement} */ ($('name')).value = q.get('name') || '';
  testHooks.hibikiApp = { join, leave, goOnline, get conference() { return conf; } };
  if (q.get('online') && q.get('name')) goOnline(q.get('name') || '').catch((err) => console.warn('hibiki: lobby', err));
  const saved = loadSession();
  if (saved && (!q.get('room') || q.get('room') === saved.room)) {
    join(saved);
  } else if (q.get('autojoin') && q.get('name')) {
    const name = q.get('name') || '';
    const [width, height] = (q.get('video') || '').split('x').map(Number);
    join({
      name, room: q.get('room') || 'demo', identity: q.get('identity') || newIdentity(name),
      camera: q.get('camera') !== '0', mic: q.get('mic') !== '0', simulcast: q.get('simulcast') !== '0',
      width: width || undefined, height: height || undefined,
    });
  }
  show(saved ? 'conference' : 'lobby');
}

start();
