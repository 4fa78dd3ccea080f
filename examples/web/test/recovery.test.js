// Unit tests of the recovery parts of the client: the publish connection's
// ICE watchdog, the Transport's negotiation after a lost socket and around
// ICE restarts, and the speaker state. A fake RTCPeerConnection stands in
// for the browser's.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { IceWatch } from '../icewatch.js';
import { Transport } from '../transport.js';
import { Speakers, displayLevel, remoteLevels } from '../speakers.js';

/** Just enough of RTCPeerConnection for Transport: SDP carries the ICE generation. */
class FakePC extends EventTarget {
  constructor() {
    super();
    this.signalingState = 'stable';
    this.iceConnectionState = 'new';
    this.localDescription = null;
    this.remoteDescription = null;
    this.generation = 1;
    this.restartAsked = false;
    this.offers = 0;
    this.added = [];
  }

  async createOffer(opts = {}) {
    if (this.restartAsked || opts.iceRestart) this.generation++;
    this.restartAsked = false;
    return { type: 'offer', sdp: `offer ${++this.offers} ufrag=${this.generation}` };
  }

  async createAnswer() { return { type: 'answer', sdp: `answer ufrag=${this.generation}` }; }

  async setLocalDescription(d) {
    this.localDescription = d;
    this.signalingState = d.type === 'offer' ? 'have-local-offer' : 'stable';
  }

  async setRemoteDescription(d) {
    await new Promise((r) => setTimeout(r, 5)); // applying takes a while, as in a browser
    this.remoteDescription = d;
    this.signalingState = d.type === 'answer' ? 'stable' : 'have-remote-offer';
  }

  async addIceCandidate(c) {
    const want = /ufrag=(\d+)/.exec(this.remoteDescription.sdp)[1];
    if (c && c.usernameFragment !== want) throw new Error(`candidate of generation ${c.usernameFragment}, remote is ${want}`);
    this.added.push(c ? c.candidate : 'end');
  }

  restartIce() { this.restartAsked = true; }

  close() { this.signalingState = 'closed'; }
}
globalThis.RTCPeerConnection = FakePC;

const newTransport = (target) => new Transport(target, {}, () => {});

test('an offer whose answer was lost with the socket is sent again as it was', async () => {
  const t = newTransport('publish');
  const sent = [];
  await assert.rejects(t.negotiate(async (sdp) => { sent.push(sdp); throw new Error('socket closed'); }));
  assert.equal(t.pc.signalingState, 'have-local-offer');
  await t.negotiate(async (sdp) => { sent.push(sdp); return 'answer ufrag=1'; });
  assert.deepEqual(sent, ['offer 1 ufrag=1', 'offer 1 ufrag=1']);
  assert.equal(t.pc.signalingState, 'stable');
});

test('an ICE restart makes a new offer with new credentials, even over a pending one', async () => {
  const t = newTransport('publish');
  await t.negotiate(async () => 'answer ufrag=1');
  await assert.rejects(t.negotiate(async () => { throw new Error('socket closed'); }));
  const sent = [];
  await t.restartIce(async (sdp) => { sent.push(sdp); return 'answer ufrag=2'; });
  assert.deepEqual(sent, ['offer 3 ufrag=2']);
  assert.equal(t.restarts, 1);
});

test('a restart asked during a negotiation runs right after it', async () => {
  const t = newTransport('publish');
  const sent = [];
  let release = () => {};
  // One exchange function for every offer, as the Session has.
  const exchange = (sdp) => {
    sent.push(sdp);
    return sent.length === 1 ? new Promise((r) => { release = () => r('answer ufrag=1'); }) : Promise.resolve('answer ufrag=2');
  };
  const first = t.negotiate(exchange);
  await new Promise((r) => setTimeout(r, 1));
  const second = t.restartIce(exchange);
  release();
  await Promise.all([first, second]);
  assert.deepEqual(sent, ['offer 1 ufrag=1', 'offer 2 ufrag=2']);
});

test('candidates of a new generation wait while its answer or offer is applied', async () => {
  const pub = newTransport('publish');
  await pub.negotiate(async () => 'answer ufrag=1');
  let answered;
  const restart = pub.restartIce(async () => {
    // The answer arrives, and right behind it the server's first new candidate.
    setTimeout(() => pub.addRemoteCandidate({ candidate: 'c2', usernameFragment: '2' }), 0);
    answered = 'answer ufrag=2';
    return answered;
  });
  await restart;
  assert.deepEqual(pub.pc.added, ['c2']);

  const sub = newTransport('subscribe');
  const answers = [];
  await sub.answer('offer ufrag=1', () => {}, (a) => answers.push(a));
  const done = sub.answer('offer ufrag=2', () => {}, (a) => answers.push(a)); // the server restarted ICE
  await sub.addRemoteCandidate({ candidate: 'n1', usernameFragment: '2' });
  await done;
  assert.deepEqual(sub.pc.added, ['n1']);
  assert.equal(answers.length, 2);
});

/** An RTCPeerConnection stand-in for IceWatch: a state and its change event. */
function icePC() {
  const pc = new EventTarget();
  pc.iceConnectionState = 'connected';
  pc.set = (s) => {
    pc.iceConnectionState = s;
    pc.dispatchEvent(new Event('iceconnectionstatechange'));
  };
  return pc;
}

test('IceWatch restarts at once on failed, after the grace period on disconnected, never while connected', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let now = 0;
    const tick = (ms) => { now += ms; mock.timers.tick(ms); };
    const pc = icePC();
    const restarts = [];
    const w = new IceWatch(pc, (s) => restarts.push(`${now}:${s}`), { graceMs: 2000, minGapMs: 3000, now: () => now });

    pc.set('disconnected');
    tick(1500);
    pc.set('connected'); // healed by itself
    tick(2000);
    assert.deepEqual(restarts, []);

    pc.set('disconnected');
    tick(2000);
    assert.deepEqual(restarts, ['5500:disconnected']);

    pc.set('checking');
    pc.set('failed'); // the restart did not help: again, but not before minGap
    tick(2999);
    assert.equal(restarts.length, 1);
    tick(1);
    assert.deepEqual(restarts, ['5500:disconnected', '8500:failed']);

    tick(3000); // still failed with no event (the offer could not go out): look again
    assert.deepEqual(restarts, ['5500:disconnected', '8500:failed', '11500:failed']);
    pc.set('connected');
    tick(10000);
    assert.equal(restarts.length, 3);
    w.close();
  } finally {
    mock.timers.reset();
  }
});

test('displayLevel maps -60..-10 dBov onto 0..1', () => {
  assert.equal(displayLevel(0), 0);
  assert.equal(displayLevel(10 ** (-70 / 20)), 0);
  assert.ok(Math.abs(displayLevel(10 ** (-35 / 20)) - 0.5) < 1e-9);
  assert.equal(displayLevel(1), 1);
});

test('remoteLevels takes the loudest fresh source per participant; muted and stale ones are silent', () => {
  const src = (audioLevel, timestamp) => ({ audioLevel, timestamp, source: 1, rtpTimestamp: 0 });
  const rx = (...sources) => ({ getSynchronizationSources: () => sources });
  const now = { perf: 10_000, wall: 1.7e12 };
  const levels = remoteLevels([
    { participantSid: 'A', kind: 'audio', muted: false, receiver: rx(src(10 ** (-35 / 20), now.wall - 100)) },
    { participantSid: 'A', kind: 'audio', muted: false, receiver: rx(src(10 ** (-20 / 20), now.perf - 50)) },
    { participantSid: 'B', kind: 'audio', muted: false, receiver: rx(src(1, now.wall - 2000)) },
    { participantSid: 'C', kind: 'audio', muted: true, receiver: rx(src(1, now.wall)) },
    { participantSid: 'D', kind: 'video', muted: false, receiver: rx(src(1, now.wall)) },
  ], now);
  assert.deepEqual([...levels], [['A', 0.8], ['B', 0], ['C', 0]]);
});

test('Speakers follows the server once it speaks, and emits only changes', () => {
  const log = [];
  const s = new Speakers({
    activeSpeakersChanged: (sids) => log.push(`active ${sids}`),
    dominantSpeakerChanged: (sid) => log.push(`dominant ${sid}`),
    audioLevels: (l) => log.push(`levels ${JSON.stringify(l)}`),
  });
  s.onMeasured(['L']);
  s.onServer({ dominant: 'A', speakers: [{ sid: 'A', level: 0.6 }, { sid: 'B', level: 0.1 }] });
  s.onServer({ dominant: 'A', speakers: [{ sid: 'A', level: 0.5 }, { sid: 'B', level: 0.2 }] });
  s.onMeasured(['L']); // ignored now
  s.onServer({ dominant: 'B', speakers: [{ sid: 'B', level: 0.4 }] });
  s.forget('B');
  s.setLevels(new Map([['A', 0.5]]));
  s.setLevels(new Map([['A', 0.51]]));
  s.setLevels(new Map([['A', 0.6]]));
  assert.deepEqual(log, [
    'active L', 'active A,B', 'dominant A', 'active B', 'dominant B', 'active ',
    'levels {"A":0.5}', 'levels {"A":0.6}',
  ]);
});
