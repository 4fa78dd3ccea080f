// Unit tests of the client library's pure parts, for Node's test runner:
// `npm test` (node --test). The browser behaviour is tested in real
// Chromium by e2e/browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mediaSections } from '../transport.js';
import { rates, speakersOf } from '../stats.js';
import { Remotes } from '../remote.js';
import { LocalTrack, SIMULCAST, findLocal } from '../local.js';

const offer = [
  'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1 2',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:0', 'a=sendonly', 'a=msid:PA_1 TR_A',
  'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:1', 'a=sendonly', 'a=msid:PA_1 TR_V',
  'm=video 0 UDP/TLS/RTP/SAVPF 96', 'a=mid:2', 'a=sendonly',
  '',
].join('\r\n');

test('mediaSections reads mids, directions and msid; port 0 is inactive', () => {
  assert.deepEqual(mediaSections(offer), [
    { mid: '0', direction: 'sendonly', msidStream: 'PA_1' },
    { mid: '1', direction: 'sendonly', msidStream: 'PA_1' },
    { mid: '2', direction: 'inactive', msidStream: '' },
  ]);
});

/** A stand-in for RTCPeerConnection with one transceiver per mid. */
function fakePC(mids) {
  const tr = mids.map((mid) => ({ mid, receiver: { track: { id: `t${mid}`, kind: mid === '0' ? 'audio' : 'video' } } }));
  return { getTransceivers: () => tr };
}

test('Remotes binds sending m-lines to track SIDs and unbinds stopped ones', () => {
  globalThis.MediaStream = class { constructor(tracks) { this.tracks = tracks; } };
  const log = [];
  const ev = (name) => (a, p) => log.push(p ? `${name} ${a.sid} ${p.sid}` : `${name} ${a.sid}`);
  const r = new Remotes({
    participantJoined: ev('joined'), participantLeft: ev('left'),
    trackPublished: ev('published'), trackUnpublished: ev('unpublished'),
    trackSubscribed: ev('subscribed'), trackUnsubscribed: ev('unsubscribed'),
  });
  r.sync([{ sid: 'PA_1', identity: 'alice', name: 'Alice', tracks: [{ sid: 'TR_A', kind: 'audio' }, { sid: 'TR_V', kind: 'video' }] }]);
  const pc = fakePC(['0', '1', '2']);
  r.applyOffer(pc, offer, { 0: 'TR_A', 1: 'TR_V' });
  assert.equal(r.track('TR_V').mid, '1');
  assert.equal(r.sidOfMid('0'), 'TR_A');
  assert.ok(r.track('TR_A').subscribed);
  // The video m-line goes inactive: its track is unbound, audio stays.
  r.applyOffer(pc, offer.replace('a=mid:1\r\na=sendonly', 'a=mid:1\r\na=inactive'), { 0: 'TR_A' });
  assert.equal(r.track('TR_V').subscribed, false);
  assert.ok(r.track('TR_A').subscribed);
  // A re-join's list without the participant removes it and its tracks.
  r.sync([]);
  assert.equal(r.participants.size, 0);
  assert.deepEqual(log, [
    'joined PA_1', 'published TR_A PA_1', 'published TR_V PA_1',
    'subscribed TR_A PA_1', 'subscribed TR_V PA_1',
    'unsubscribed TR_V PA_1',
    'unsubscribed TR_A PA_1', 'unpublished TR_A PA_1', 'unpublished TR_V PA_1', 'left PA_1',
  ]);
});

test('Remotes takes the publisher from the msid when the offer comes first', () => {
  globalThis.MediaStream = class { constructor(tracks) { this.tracks = tracks; } };
  const joined = [];
  const noop = () => {};
  const r = new Remotes({
    participantJoined: (p) => joined.push(p.sid), participantLeft: noop, trackPublished: noop,
    trackUnpublished: noop, trackSubscribed: noop, trackUnsubscribed: noop,
  });
  r.applyOffer(fakePC(['0', '1', '2']), offer, { 0: 'TR_A' });
  assert.deepEqual(joined, ['PA_1']);
  assert.equal(r.track('TR_A').participantSid, 'PA_1');
});

const inbound = (over) => ({
  kind: 'video', mid: '1', trackSid: 'TR_V', ssrc: 7, packetsReceived: 0, packetsLost: 0, bytesReceived: 0,
  jitter: 0, framesDecoded: 0, framesDropped: 0, freezeCount: 0, totalFreezesDuration: 0, frameWidth: 640,
  frameHeight: 360, framesPerSecond: 30, totalSamplesReceived: 0, concealedSamples: 0, audioLevel: 0, ...over,
});
const summary = (time, inb) => ({
  time,
  publish: null,
  subscribe: { connectionState: 'connected', iceConnectionState: 'connected', candidatePair: null, outbound: [], inbound: inb, localAudioLevel: 0, transports: 1 },
});

test('rates turns counters into bitrates, loss and per-track quality', () => {
  const a = summary(1000, [inbound({ packetsReceived: 100, bytesReceived: 100000 })]);
  const b = summary(2000, [inbound({ packetsReceived: 190, packetsLost: 10, bytesReceived: 225000 })]);
  const live = rates(b, a);
  assert.equal(live.bitrateIn, 1_000_000);
  assert.equal(live.lossIn, 10);
  assert.equal(live.tracks.TR_V.quality, 'poor');
  assert.equal(live.tracks.TR_V.width, 640);
  const quiet = rates(summary(3000, [inbound({ packetsReceived: 190, packetsLost: 10, bytesReceived: 225000 })]), b);
  assert.equal(quiet.tracks.TR_V.quality, 'lost');
});

test('speakersOf orders audible participants, loudest first, local included', () => {
  const live = { tracks: { A: { audioLevel: 0.1 }, B: { audioLevel: 0.5 }, C: { audioLevel: 0.001 } }, localAudioLevel: 0.3 };
  const owners = { A: 'PA_a', B: 'PA_b', C: 'PA_c' };
  assert.deepEqual(speakersOf(live, { threshold: 0.02, localSid: 'PA_me', ownerOf: (sid) => owners[sid] }), ['PA_b', 'PA_me', 'PA_a']);
  assert.deepEqual(speakersOf(live, { threshold: 0.02, localSid: '', ownerOf: () => '' }), []);
});

test('LocalTrack describes simulcast layers q/h/f at 1/4, 1/2 and full size', () => {
  const track = { id: 'cam1', kind: 'video', getSettings: () => ({ width: 1280, height: 720 }) };
  const lt = new LocalTrack(track, { source: 'camera', simulcast: true });
  assert.deepEqual(lt.encodings().map((e) => [e.rid, e.scaleResolutionDownBy]), [['q', 4], ['h', 2], ['f', 1]]);
  assert.deepEqual(lt.info().layers, [
    { rid: 'q', width: 320, height: 180 }, { rid: 'h', width: 640, height: 360 }, { rid: 'f', width: 1280, height: 720 },
  ]);
  assert.equal(SIMULCAST.length, 3);
  const tracks = new Map([['TR_1', Object.assign(lt, { sid: 'TR_1' })]]);
  assert.equal(findLocal(tracks, 'TR_1'), lt);
  assert.equal(findLocal(tracks, track), lt);
  assert.equal(findLocal(tracks, 'nope'), undefined);
});

test('applyLayers deactivates the encodings nobody needs', async () => {
  let params = { encodings: SIMULCAST.map((e) => ({ ...e, active: true })) };
  const sender = { getParameters: () => structuredClone(params), setParameters: async (p) => { params = p; } };
  const track = { id: 'cam1', kind: 'video', getSettings: () => ({ width: 1280, height: 720 }) };
  const lt = new LocalTrack(track, { simulcast: true });
  lt.sender = sender;
  await lt.applyLayers([true, true, false]);
  assert.deepEqual(params.encodings.map((e) => e.active), [true, true, false]);
});
