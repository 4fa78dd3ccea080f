// Unit tests of the long-poll link (longpoll.js) against a scripted fetch:
// lost replies and repeated messages, as docs/protocol.md describes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LongPollLink, longPollUrl } from '../longpoll.js';

test('longPollUrl puts /lp next to /ws', () => {
  assert.equal(longPollUrl('ws://h:1/ws'), 'http://h:1/lp');
  assert.equal(longPollUrl('wss://h/app/ws'), 'https://h/app/lp');
});

/**
 * A fake server: `replies` answers each request in turn (a function of the
 * request), throwing means the reply was lost.
 */
function scripted(replies) {
  const seen = [];
  globalThis.fetch = async (url, init = {}) => {
    const req = { url: String(url), method: init.method || 'GET', body: init.body };
    seen.push(req);
    const next = replies.shift();
    if (!next) return new Promise(() => {}); // hold the poll forever
    const r = next(req);
    if (r instanceof Error) throw r;
    return { ok: r.status === 200, status: r.status, json: async () => r.body };
  };
  return seen;
}

const ok = (body) => () => ({ status: 200, body });

test('every server message is delivered once, in order, when a poll reply is lost', async () => {
  const seen = scripted([
    ok({ session: 'S', ack: 0 }),
    ok({ messages: [{ seq: 1, message: { type: 'a' } }, { seq: 2, message: { type: 'b' } }] }),
    () => new Error('reply lost'), // the server sent seq 3, we never saw it
    ok({ messages: [{ seq: 3, message: { type: 'c' } }] }),
    ok({ messages: [{ seq: 3, message: { type: 'c' } }, { seq: 4, message: { type: 'd' } }] }),
  ]);
  const link = new LongPollLink('http://h/lp');
  const got = [];
  const done = new Promise((resolve) => {
    link.onmessage = (t) => { got.push(JSON.parse(t).type); if (got.length === 4) resolve(); };
  });
  await link.open();
  await done;
  link.close(4000);
  assert.deepEqual(got, ['a', 'b', 'c', 'd']);
  const acks = seen.filter((r) => r.method === 'GET').map((r) => new URL(r.url).searchParams.get('ack'));
  assert.deepEqual(acks.slice(0, 4), ['0', '2', '2', '3']);
});

test('a send whose reply is lost is posted again with the same seq', async () => {
  let posts = 0;
  const seen = scripted([
    ok({ session: 'S', ack: 0 }),
    (r) => (r.method === 'POST' ? (posts++, new Error('lost')) : { status: 200, body: { messages: [] } }),
    (r) => (r.method === 'POST' ? (posts++, { status: 200, body: { ack: 1 } }) : { status: 200, body: { messages: [] } }),
  ]);
  const link = new LongPollLink('http://h/lp');
  link.poll = async () => {}; // no polling in this test
  await link.open();
  link.send('{"type":"ping","id":"1"}');
  while (link.unacked.length) await new Promise((r) => setTimeout(r, 5));
  link.close(4000);
  const bodies = seen.filter((r) => r.method === 'POST' && r.body).map((r) => JSON.parse(r.body));
  assert.equal(posts, 2);
  assert.deepEqual(bodies[0], bodies[1]);
  assert.deepEqual(bodies[0], { messages: [{ seq: 1, message: { type: 'ping', id: '1' } }] });
});

test('an unknown session ends the link', async () => {
  scripted([ok({ session: 'S', ack: 0 }), () => ({ status: 404, body: { type: 'error', code: 'not_found' } })]);
  const link = new LongPollLink('http://h/lp');
  const reason = new Promise((resolve) => { link.onclose = resolve; });
  await link.open();
  assert.match(await reason, /404 not_found/);
});
