// @ts-check
// Presence and 1:1 invites (docs/protocol.md "Lobby"): a second socket that
// sends `lobby` instead of `join`, stays open during calls (the server
// shows its user "in_call" while a room socket with the same identity is
// open), and carries invites. An accepted invite names a fresh room and a
// token for it; the page joins it like any room.

import { Emitter } from './emitter.js';
import { Signal } from './signal.js';

/** @typedef {{identity: string, name?: string, state: string}} PresenceUser */

/**
 * @typedef {object} LobbyEvents
 * @property {[PresenceUser[]]} users the list changed
 * @property {[string, PresenceUser]} invited inviteId, caller
 * @property {[string, string, string, PresenceUser]} accepted inviteId, room, token, peer
 * @property {[string, string]} ended inviteId, reason: rejected, timeout, cancelled or offline
 * @property {[string]} closed
 */

/** @extends {Emitter<LobbyEvents>} */
export class Lobby extends Emitter {
  /**
   * Enters the lobby.
   * @param {string} url the server's /ws
   * @param {string} token a token whose room is the lobby
   * @returns {Promise<Lobby>}
   */
  static async connect(url, token) {
    const l = new Lobby();
    const sig = new Signal(url, (m) => l.onEvent(m), (reason) => l.emit('closed', reason));
    l.signal = sig;
    await sig.open();
    const r = await sig.request({ type: 'lobby', token });
    l.self = r.user;
    for (const u of r.users || []) l.users.set(u.identity, u);
    l.emit('users', l.list());
    return l;
  }

  constructor() {
    super();
    /** @type {Signal | null} */
    this.signal = null;
    /** @type {PresenceUser | null} */
    this.self = null;
    /** @type {Map<string, PresenceUser>} */
    this.users = new Map();
  }

  /** @returns {PresenceUser[]} the others, by identity */
  list() {
    return [...this.users.values()].sort((a, b) => a.identity.localeCompare(b.identity));
  }

  /**
   * @private
   * @param {import('./signal.js').Message} m
   */
  onEvent(m) {
    switch (m.type) {
      case 'presence':
        if (m.user.state === 'offline') this.users.delete(m.user.identity);
        else this.users.set(m.user.identity, m.user);
        this.emit('users', this.list());
        break;
      case 'invited': this.emit('invited', m.inviteId, m.from); break;
      case 'inviteAccepted': this.emit('accepted', m.inviteId, m.room, m.token, m.peer); break;
      case 'inviteEnded': this.emit('ended', m.inviteId, m.reason); break;
      default: break;
    }
  }

  /**
   * Rings a user; resolves with the invite id.
   * @param {string} identity
   * @returns {Promise<string>}
   */
  async invite(identity) {
    const r = await this.req({ type: 'invite', identity });
    return r.inviteId;
  }

  /**
   * @param {string} inviteId
   * @param {boolean} accept
   */
  async answer(inviteId, accept) {
    await this.req({ type: 'answerInvite', inviteId, accept });
  }

  /** @param {string} inviteId */
  async cancel(inviteId) {
    await this.req({ type: 'cancelInvite', inviteId });
  }

  /**
   * @private
   * @param {import('./signal.js').Message} m
   */
  req(m) {
    if (!this.signal) return Promise.reject(new Error('not in the lobby'));
    return this.signal.request(m);
  }

  close() {
    this.signal?.close('left the lobby');
    this.signal = null;
  }
}

/**
 * The page part: an "online" list with a call button per user, a ringing
 * box with accept and reject, and the caller's "calling…" box.
 */
export class LobbyUI {
  /**
   * @param {Lobby} lobby
   * @param {HTMLElement} parent
   * @param {(room: string, token: string) => void} onCall joins the call room
   */
  constructor(lobby, parent, onCall) {
    this.lobby = lobby;
    this.onCall = onCall;
    this.el = document.createElement('section');
    this.el.id = 'presence';
    this.el.className = 'card presence';
    this.el.innerHTML = '<h2>Online</h2><ul class="users"></ul><p class="empty muted-text">Nobody else is online.</p>';
    parent.append(this.el);
    this.ring = document.createElement('div');
    this.ring.id = 'ring';
    this.ring.className = 'ring';
    this.ring.hidden = true;
    document.body.append(this.ring);
    /** @type {string} the invite this page is part of */
    this.inviteId = '';
    lobby.on('users', (users) => this.renderUsers(users));
    lobby.on('invited', (id, from) => this.showRing(id, from));
    lobby.on('accepted', (id, room, token) => {
      if (id !== this.inviteId) return;
      this.hideRing();
      this.onCall(room, token);
    });
    lobby.on('ended', (id, reason) => {
      if (id !== this.inviteId) return;
      this.showNotice(`Call ${reason}`);
    });
    this.renderUsers(lobby.list());
  }

  /**
   * @private
   * @param {PresenceUser[]} users
   */
  renderUsers(users) {
    const ul = /** @type {HTMLElement} */ (this.el.querySelector('.users'));
    ul.replaceChildren(...users.map((u) => {
      const li = document.createElement('li');
      li.dataset.identity = u.identity;
      li.dataset.state = u.state;
      const name = document.createElement('span');
      name.textContent = u.name || u.identity;
      const state = document.createElement('span');
      state.className = 'state';
      state.textContent = u.state === 'in_call' ? 'in a call' : 'available';
      const call = document.createElement('button');
      call.type = 'button';
      call.textContent = 'Call';
      call.addEventListener('click', () => this.call(u));
      li.append(name, state, call);
      return li;
    }));
    /** @type {HTMLElement} */ (this.el.querySelector('.empty')).hidden = users.length > 0;
  }

  /**
   * @private
   * @param {PresenceUser} u
   */
  async call(u) {
    try {
      this.inviteId = await this.lobby.invite(u.identity);
    } catch (err) {
      this.showNotice(err instanceof Error ? err.message : String(err));
      return;
    }
    this.box(`Calling ${u.name || u.identity}…`, [['Cancel', () => {
      this.lobby.cancel(this.inviteId).catch(() => {});
      this.hideRing();
    }]]);
    this.ring.dataset.role = 'caller';
  }

  /**
   * @private
   * @param {string} id
   * @param {PresenceUser} from
   */
  showRing(id, from) {
    this.inviteId = id;
    this.box(`${from.name || from.identity} is calling`, [
      ['Accept', () => { this.lobby.answer(id, true).catch((e) => this.showNotice(String(e))); }],
      ['Reject', () => { this.lobby.answer(id, false).catch(() => {}); this.hideRing(); }],
    ]);
    this.ring.dataset.role = 'callee';
  }

  /**
   * @private
   * @param {string} text
   * @param {Array<[string, () => void]>} buttons
   */
  box(text, buttons) {
    const p = document.createElement('p');
    p.textContent = text;
    this.ring.replaceChildren(p, ...buttons.map(([label, fn]) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.dataset.action = label.toLowerCase();
      b.addEventListener('click', fn);
      return b;
    }));
    this.ring.hidden = false;
  }

  /**
   * @private
   * @param {string} text
   */
  showNotice(text) {
    this.box(text, [['OK', () => this.hideRing()]]);
    this.ring.dataset.role = 'notice';
  }

  /** @private */
  hideRing() {
    this.ring.hidden = true;
  }

  close() {
    this.el.remove();
    this.ring.remove();
  }
}
