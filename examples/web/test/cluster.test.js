// Unit tests of the client's cluster behaviour (docs/protocol.md,
// "Redirect"; docs/cluster.md): a join follows `redirect` to the node that
// serves the room, at most 3 times, and a join refused as `unavailable` is
// tried again with growing pauses. Each signaling node is a script behind a
// fake WebSocket; the Room under test is the real one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Room, SignalError } from '../hibiki.js';
import { unavailableDelay, MAX_REDIRECTS } from '../session.js';

/** Just enough of RTCPeerConnection for a Room that joins and publishes nothing. */
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
  close() { this.signalingState = 'closed'; }
}
globalThis.RTCPeerConnection = FakePC;

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
    if (m.type === 'leave') close = true;
    setTimeout(() => {
      if (this.readyState !== FakeWebSocket.OPEN) return;
      this.onmessage?.({ data: JSON.stringify(reply) });
      if (close) this.end(1000);
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
