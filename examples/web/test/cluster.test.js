// Unit tests of the client's cluster behaviour (docs/protocol.md,
// "Redirect"; docs/cluster.md): a join follows `redirect` to the node that
// serves the room, at most 3 times, and a join refused as `unavailable` is
// tried again with growing pauses; a draining node's `redirect` event moves
// a joined Room to another node (docs/protocol.md, "Moving to another node").
// Each signaling node is a script behind a fake WebSocket; the Room under
// test is the real one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Room, SignalError } from '../hibiki.js';
import { unavailableDelay, MAX_REDIRECTS } from '../session.js';

/** Just enough of RTCPeerConnection for a Room that joins and publishes a track or two. */
class FakePC extends EventTarget {
  constructor(config) {
    super();
    this.config = config;
    this.iceConnectionState = 'new';
    this.connectionState = 'new';
    this.signalingState = 'stable';
    this.localDescription = null;
    this.onicecandidate = null;
  }

  async createOffer() { return { type: 'offer', sdp: 'offer' }; }
  async setLocalDescription(d) { this.localDescription = d; }
  async setRemoteDescription(d) { this.remoteDescription = d; }
  getConfiguration() { return this.config; }
  setConfiguration(c) { this.config = c; }
  addTransceiver(track) { return { sender: { track, replaceTrack: async () => {} } }; }
  close() { this.signalingState = 'closed'; }
}
globalThis.RTCPeerConnection = FakePC;
globalThis.MediaStream = class { constructor(tracks) { this.tracks = tracks; } };

/** A MediaStreamTrack stand-in: a Room publishes it and stops it on leave. */
const fakeTrack = (id, kind) => ({
  id, kind, enabled: true, stopped: false, stop() { this.stopped = true; }, getSettings: () => ({ width: 640, height: 360 }),
});

/**
 * Signaling nodes by URL. A node is a function from a `join` to its reply
 * (`joined`, `redirect` or `error`); after anything but `joined` the node
 * closes the socket, as the server does. `joins` records every join with
 * the node it reached.
 */
class Nodes {
  constructor() {
    /** @type {Map<string, (join: any) => any>} */
    this.byUrl = new Map();
    /** @type {{url: string, token: string, resume: string | undefined}[]} */
    this.joins = [];
    /** @type {{url: string, cid: string, sid: string}[]} every publish, with the node it reached */
    this.publishes = [];
    /** @type {string[]} every mute request, as "url trackSid muted" */
    this.mutes = [];
    /** @type {FakeWebSocket[]} every socket that reached a node */
    this.sockets = [];
  }

  /** @returns {FakeWebSocket} the open socket to url (the node's side of a joined session) */
  openSocket(url) {
    const ws = this.sockets.find((w) => w.url === url && w.readyState === FakeWebSocket.OPEN);
    assert.ok(ws, `no open socket to ${url}`);
    return ws;
  }
}

let nodes = new Nodes();

/** A WebSocket whose far end is one of `nodes`; a URL without a node refuses the connection. */
class FakeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;

  constructor(url) {
    this.url = url;
    this.readyState = FakeWebSocket.CONNECTING;
    this.node = nodes.byUrl.get(url);
    setTimeout(() => {
      if (!this.node) {
        this.onerror?.({});
        this.end(1006);
        return;
      }
      this.readyState = FakeWebSocket.OPEN;
      nodes.sockets.push(this);
      this.onopen?.({});
    }, 0);
  }

  send(text) {
    const m = JSON.parse(text);
    let reply = { type: 'ok', id: m.id };
    let close = false;
    if (m.type === 'ping') reply = { type: 'pong', id: m.id };
    if (m.type === 'join') {
      nodes.joins.push({ url: this.url, token: m.token, resume: m.resume });
      reply = { ...this.node(m), id: m.id };
      close = reply.type !== 'joined';
    }
    if (m.type === 'publish') {
      const sid = `T${nodes.publishes.length + 1}`;
      nodes.publishes.push({ url: this.url, cid: m.track.cid, sid });
      reply = { type: 'published', id: m.id, track: { ...m.track, sid } };
    }
    if (m.type === 'offer') reply = { type: 'answer', id: m.id, target: 'publish', sdp: 'answer' };
    if (m.type === 'mute') nodes.mutes.push(`${this.url} ${m.trackSid} ${m.muted}`);
    if (m.type === 'leave') close = true;
    setTimeout(() => {
      if (this.readyState !== FakeWebSocket.OPEN) return;
      this.onmessage?.({ data: JSON.stringify(reply) });
      if (close) this.end(1000);
    }, 0);
  }

  /** The node sends an event of its own (no id); close: then it closes the socket, as a draining node does. */
  push(event, close = false) {
    setTimeout(() => {
      if (this.readyState !== FakeWebSocket.OPEN) return;
      this.onmessage?.({ data: JSON.stringify(event) });
      if (close) setTimeout(() => this.end(1000), 5);
    }, 0);
  }

  close(code) {
    if (this.readyState >= FakeWebSocket.CLOSING) return;
    this.readyState = FakeWebSocket.CLOSING;
    setTimeout(() => this.end(code), 0);
  }

  end(code) {
    if (this.readyState === FakeWebSocket.CLOSED) return;
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose?.({ code, reason: '' });
  }
}
globalThis.WebSocket = FakeWebSocket;

const joined = (sessionId, resumed = false) => () => ({
  type: 'joined', sessionId, resumed, room: 'r', participant: { sid: sessionId, identity: 'me' }, participants: [],
});
const redirectTo = (url) => () => ({ type: 'redirect', url });
const unavailable = () => ({ type: 'error', code: 'unavailable', message: 'room cannot be placed now; retry' });

/** Room options for these tests: WebSocket only (no long-poll fallback), no p2p, no timers to speak of. */
const opts = (over = {}) => ({ transport: 'websocket', p2p: false, statsIntervalMs: 1e6, levelIntervalMs: 1e6, ...over });

/** Resolves when room's connection state next becomes s. */
const nextState = (room, s) => new Promise((resolve) => {
  const off = room.on('connectionStateChanged', (got) => { if (got === s) { off(); resolve(); } });
});

test('unavailableDelay doubles from the first pause up to 8 times it', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((n) => unavailableDelay(n, 500)), [500, 1000, 2000, 4000, 4000, 4000]);
});

test('a join follows redirect to the serving node, and a resume goes straight there', async () => {
  nodes = new Nodes();
  nodes.byUrl.set('ws://b/ws', redirectTo('ws://a/ws'));
  let resumed = false;
  nodes.byUrl.set('ws://a/ws', (m) => (m.resume ? (resumed = true, joined('S1', true)()) : joined('S1')()));
  const room = await Room.connect('ws://b/ws', 'TOKEN', opts());
  assert.equal(room.state, 'connected');
  assert.equal(room.sessionId, 'S1');
  assert.equal(room.counters.redirects, 1);
  assert.deepEqual(nodes.joins, [
    { url: 'ws://b/ws', token: 'TOKEN', resume: undefined },
    { url: 'ws://a/ws', token: 'TOKEN', resume: undefined },
  ]);

  const back = nextState(room, 'connected');
  room.session.dropSocket();
  await back;
  assert.ok(resumed);
  assert.equal(room.sessionId, 'S1');
  assert.deepEqual(nodes.joins[2], { url: 'ws://a/ws', token: 'TOKEN', resume: 'S1' });
  await room.leave();
});

test('a reconnect that cannot reach the node it was sent to starts over at the first URL', async () => {
  nodes = new Nodes();
  nodes.byUrl.set('ws://b/ws', redirectTo('ws://a/ws'));
  nodes.byUrl.set('ws://a/ws', joined('S1'));
  const room = await Room.connect('ws://b/ws', 'TOKEN', opts());
  // a dies; its room is placed anew on c, where the old session is unknown.
  nodes.byUrl.delete('ws://a/ws');
  nodes.byUrl.set('ws://b/ws', redirectTo('ws://c/ws'));
  nodes.byUrl.set('ws://c/ws', joined('S2'));
  const back = nextState(room, 'connected');
  room.session.dropSocket();
  await back;
  assert.equal(room.sessionId, 'S2');
  assert.equal(room.session.url, 'ws://c/ws');
  assert.deepEqual(nodes.joins.slice(2).map((j) => `${j.url} ${j.resume}`), ['ws://b/ws S1', 'ws://c/ws S1']);
  await room.leave();
});

test(`more than ${MAX_REDIRECTS} redirects fail the join with redirect_loop and an error event`, async () => {
  nodes = new Nodes();
  nodes.byUrl.set('ws://a/ws', redirectTo('ws://b/ws'));
  nodes.byUrl.set('ws://b/ws', redirectTo('ws://a/ws'));
  const errors = [];
  await assert.rejects(
    Room.connect('ws://a/ws', 'TOKEN', opts({ on: { error: (e) => errors.push(e) } })),
    (err) => err instanceof SignalError && err.code === 'redirect_loop',
  );
  assert.deepEqual(nodes.joins.map((j) => j.url), ['ws://a/ws', 'ws://b/ws', 'ws://a/ws', 'ws://b/ws']);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'redirect_loop');
});

test('a join refused as unavailable is tried again with growing pauses, each announced', async () => {
  nodes = new Nodes();
  let refusals = 2;
  nodes.byUrl.set('ws://a/ws', () => (refusals-- > 0 ? unavailable() : joined('S1')()));
  const retries = [];
  const room = await Room.connect('ws://a/ws', 'TOKEN', opts({ unavailableDelayMs: 20, on: { joinRetry: (r) => retries.push(r) } }));
  assert.equal(room.state, 'connected');
  assert.equal(nodes.joins.length, 3);
  assert.deepEqual(retries.map((r) => [r.attempt, r.retries]), [[1, 6], [2, 6]]);
  assert.ok(retries[0].delayMs >= 15 && retries[0].delayMs <= 25, `first pause ${retries[0].delayMs}`);
  assert.ok(retries[1].delayMs >= 30 && retries[1].delayMs <= 50, `second pause ${retries[1].delayMs}`);
  assert.equal(room.counters.joinRetries, 2);
  await room.leave();
});

test('a join still unavailable after its retries fails with the server\'s code', async () => {
  nodes = new Nodes();
  nodes.byUrl.set('ws://a/ws', unavailable);
  const retries = [];
  await assert.rejects(
    Room.connect('ws://a/ws', 'TOKEN', opts({ unavailableRetries: 2, unavailableDelayMs: 5, on: { joinRetry: (r) => retries.push(r.attempt) } })),
    (err) => err instanceof SignalError && err.code === 'unavailable',
  );
  assert.equal(nodes.joins.length, 3);
  assert.deepEqual(retries, [1, 2]);
});

/** Resolves with the next emission of the event `name` on room. */
const nextEvent = (room, name) => new Promise((resolve) => {
  const off = room.on(name, (...args) => { off(); resolve(args); });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const drain = (url) => ({ type: 'redirect', url, reason: 'node draining' });

test('a redirect event moves a joined Room: a fresh join at the new node, its tracks published there, and a moved event', async () => {
  nodes = new Nodes();
  nodes.byUrl.set('ws://a/ws', joined('S1'));
  nodes.byUrl.set('ws://b/ws', joined('S2'));
  const room = await Room.connect('ws://a/ws', 'TOKEN', opts());
  const cam = fakeTrack('cam-1', 'video');
  const mic = fakeTrack('mic-1', 'audio');
  await room.publishTrack(cam, { source: 'camera' });
  await room.publishTrack(mic, { source: 'microphone' });
  await room.setMuted(mic, true);
  const oldPCs = room.pcs;
  const states = [];
  room.on('connectionStateChanged', (s) => states.push(s));
  const moved = nextEvent(room, 'moved');

  nodes.openSocket('ws://a/ws').push(drain('ws://b/ws'), true);
  const [mv] = await moved;

  assert.deepEqual(mv, { url: 'ws://b/ws', reason: 'node draining' });
  assert.equal(room.state, 'connected');
  assert.equal(room.sessionId, 'S2');
  assert.equal(room.session.url, 'ws://b/ws');
  assert.deepEqual(states, ['reconnecting', 'connected']);
  assert.deepEqual(nodes.joins.map((j) => `${j.url} ${j.resume}`), ['ws://a/ws undefined', 'ws://b/ws undefined']);
  assert.equal(oldPCs.publish.signalingState, 'closed');
  assert.equal(oldPCs.subscribe.signalingState, 'closed');
  assert.notEqual(room.pcs.publish, oldPCs.publish);
  assert.deepEqual(nodes.publishes.map((p) => `${p.url} ${p.cid}`),
    ['ws://a/ws cam-1', 'ws://a/ws mic-1', 'ws://b/ws cam-1', 'ws://b/ws mic-1']);
  assert.deepEqual([...room.localTracks.keys()], ['T3', 'T4'], 'the local tracks under their new SIDs');
  assert.equal(room.localTracks.get('T4').muted, true);
  assert.deepEqual(nodes.mutes, ['ws://a/ws T2 true', 'ws://b/ws T4 true'], 'the mute state told to the new node');
  assert.equal(room.pcs.publish.localDescription?.type, 'offer', 'the new publish connection was negotiated');
  assert.equal(room.counters.moves, 1);
  assert.equal(room.counters.rejoins, 1);
  assert.equal(room.counters.resumes, 0);
  await room.leave();
  assert.ok(cam.stopped && mic.stopped);
});

test('the old socket closing after a redirect event is no lost socket: nothing goes back to the draining node', async () => {
  nodes = new Nodes();
  nodes.byUrl.set('ws://a/ws', joined('S1'));
  nodes.byUrl.set('ws://b/ws', joined('S2'));
  const room = await Room.connect('ws://a/ws', 'TOKEN', opts());
  const old = nodes.openSocket('ws://a/ws');
  const moved = nextEvent(room, 'moved');
  // The draining node's close comes late, after the Room has joined at b.
  old.push(drain('ws://b/ws'));
  await moved;
  old.end(1000);
  await sleep(400); // longer than the first reconnect pause (75-125 ms)
  assert.deepEqual(nodes.joins.map((j) => `${j.url} ${j.resume}`), ['ws://a/ws undefined', 'ws://b/ws undefined']);
  assert.equal(room.state, 'connected');
  assert.equal(room.counters.resumes, 0);
  assert.equal(room.counters.rejoins, 1);
  await room.leave();
});

test('a redirect reply to a join is no move, and the events are bounded: a fourth move in a row is redirect_loop, then a join at the first URL', async () => {
  nodes = new Nodes();
  nodes.byUrl.set('ws://entry/ws', redirectTo('ws://a/ws'));
  nodes.byUrl.set('ws://a/ws', joined('S1'));
  nodes.byUrl.set('ws://b/ws', joined('S2'));
  const errors = [];
  const moves = [];
  const room = await Room.connect('ws://entry/ws', 'TOKEN', opts({ on: { error: (e) => errors.push(e), moved: (m) => moves.push(m.url) } }));
  assert.equal(room.counters.moves, 0);
  // a and b drain into each other.
  for (const [from, to] of [['a', 'b'], ['b', 'a'], ['a', 'b']]) {
    const moved = nextEvent(room, 'moved');
    nodes.openSocket(`ws://${from}/ws`).push(drain(`ws://${to}/ws`), true);
    await moved;
  }
  assert.deepEqual(moves, ['ws://b/ws', 'ws://a/ws', 'ws://b/ws']);
  assert.equal(errors.length, 0);
  nodes.byUrl.set('ws://entry/ws', joined('S9'));
  const back = nextState(room, 'connected');
  nodes.openSocket('ws://b/ws').push(drain('ws://a/ws'), true);
  await back;
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'redirect_loop');
  assert.equal(room.session.url, 'ws://entry/ws');
  assert.equal(room.sessionId, 'S9');
  assert.deepEqual(nodes.joins.slice(-2).map((j) => `${j.url} ${j.resume}`), ['ws://b/ws undefined', 'ws://entry/ws undefined']);
  assert.equal(moves.length, 3, 'no moved event for the move not followed');
  await room.leave();
});

test('with reconnect off, a redirect event ends the Room instead of moving it', async () => {
  nodes = new Nodes();
  nodes.byUrl.set('ws://a/ws', joined('S1'));
  nodes.byUrl.set('ws://b/ws', joined('S2'));
  const errors = [];
  const room = await Room.connect('ws://a/ws', 'TOKEN', opts({ reconnect: false, on: { error: (e) => errors.push(e) } }));
  const down = nextState(room, 'disconnected');
  nodes.openSocket('ws://a/ws').push(drain('ws://b/ws'), true);
  await down;
  await sleep(50);
  assert.equal(nodes.joins.length, 1);
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /moved to ws:\/\/b\/ws/);
  assert.equal(room.counters.moves, 1);
});
