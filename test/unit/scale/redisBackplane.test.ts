// The backplane against a real redis-server (see test/support/redisServer.ts) and real ws clients on loopback.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { createClient } from 'redis';
import { EventStore } from '../../../src/core/capture/eventStore';
import type { ConnectionEvent, ErrorEvent, FrameEvent, MessageEvent } from '../../../src/core/capture/events';
import { BroadcastServer, type BroadcastServerOptions } from '../../../src/core/server/broadcastServer';
import {
  BackplaneError,
  RedisBackplane,
  redactRedisUrl,
  type BackplaneState,
  type RedisBackplaneOptions,
} from '../../../src/core/scale/redisBackplane';
import { startRedisServer, type RedisServer } from '../../support/redisServer';
import { waitFor } from '../../support/waitFor';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let redis: RedisServer;
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis?.dispose();
});

let channelNumber = 0;
const newChannel = () => `wsi-test-${process.pid}-${++channelNumber}`;

/** A broadcast server with a backplane on `channel`, both stopped after the test. */
async function node(
  url: string,
  channel: string,
  options: Partial<RedisBackplaneOptions> = {},
  serverOptions: BroadcastServerOptions = {},
) {
  const server = new BroadcastServer();
  const address = await server.start({
    port: 0,
    heartbeatIntervalMs: 0,
    // The tests send bursts; the per-client rate limit is not what they test.
    rateLimit: { messagesPerSecond: 100_000, burst: 100_000, action: 'drop' },
    ...serverOptions,
  });
  cleanups.push(() => server.stop());
  const backplane = new RedisBackplane(server, { url, channel, reconnect: { initialDelayMs: 50, maxDelayMs: 400 }, ...options });
  const states: BackplaneState[] = [];
  backplane.onDidChangeState((e) => states.push(e.state));
  cleanups.push(() => backplane.stop());
  await backplane.start();
  return { server, backplane, url: address.url, states };
}

interface Received {
  data: Buffer;
  isBinary: boolean;
}

async function client(url: string) {
  const ws = new WebSocket(url);
  const received: Received[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => received.push({ data, isBinary }));
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  await once(ws, 'open');
  /** Text messages as themselves, binary ones as `bin:<hex>`. */
  const labels = () => received.map((r) => (r.isBinary ? `bin:${r.data.toString('hex')}` : r.data.toString()));
  return { ws, received, labels };
}

/** A numbered binary message with bytes that are not UTF-8 (0xff), so it cannot pass for text. */
function numbered(sender: number, i: number): Buffer {
  return Buffer.from([0xff, 0x00, sender, i >> 8, i & 0xff]);
}

describe('RedisBackplane: servers act as one', () => {
  test('each client gets every message of both servers exactly once, in order per sender, text and binary intact', async () => {
    const channel = newChannel();
    const A = await node(redis.url, channel);
    const B = await node(redis.url, channel);
    assert.equal(A.backplane.state, 'connected');
    assert.notEqual(A.backplane.serverId, B.backplane.serverId);
    const watchA = await client(A.url);
    const watchB = await client(B.url);
    const senderA = await client(A.url);
    const senderB = await client(B.url);
    const N = 200;
    for (let i = 0; i < N; i++) {
      senderA.ws.send(i % 2 === 0 ? `A${i}` : numbered(0xa, i));
      senderB.ws.send(i % 2 === 0 ? `B${i}` : numbered(0xb, i));
    }
    const everyone = [watchA, watchB, senderA, senderB];
    await waitFor('every client has 400 messages', () => everyone.every((c) => c.received.length >= 2 * N));
    // Every own echo has come back from Redis and been skipped…
    await waitFor('both servers saw their own 200 messages come back', () => A.backplane.stats.ignoredOwn === N && B.backplane.stats.ignoredOwn === N);
    // …and a last message from each server, queued behind anything they wrote before, closes the count.
    A.server.sendToAll('end-A');
    B.server.sendToAll('end-B');
    await waitFor('the end markers', () => everyone.every((c) => c.labels().includes('end-A') && c.labels().includes('end-B')));

    const expected = (sender: number, prefix: string) =>
      Array.from({ length: N }, (_, i) => (i % 2 === 0 ? `${prefix}${i}` : `bin:${numbered(sender, i).toString('hex')}`));
    for (const c of everyone) {
      const labels = c.labels();
      assert.equal(labels.length, 2 * N + 2, 'no message missing, none twice');
      assert.deepEqual(
        labels.filter((l) => l.startsWith('A') || l.startsWith('bin:ff000a')),
        expected(0xa, 'A'),
      );
      assert.deepEqual(
        labels.filter((l) => l.startsWith('B') || l.startsWith('bin:ff000b')),
        expected(0xb, 'B'),
      );
      const textAsBinary = c.received.filter((r) => r.isBinary && !r.data.toString('hex').startsWith('ff00'));
      assert.deepEqual(textAsBinary, [], 'text stays text');
    }
    for (const { backplane } of [A, B]) {
      assert.deepEqual(
        { ...backplane.stats },
        { published: N + 1, received: 2 * N + 2, delivered: N + 1, droppedWhileDown: 0, publishFailed: 0, ignoredOwn: N + 1, malformed: 0 },
      );
    }
  });

  test('no loops: broadcastOthers keeps a message from its sender on every server; delivered messages are not published again; echo and none stay local', async () => {
    const channel = newChannel();
    const A = await node(redis.url, channel, {}, { relay: 'broadcastOthers' });
    const B = await node(redis.url, channel);
    const sender = await client(A.url);
    const otherA = await client(A.url);
    const onB = await client(B.url);
    sender.ws.send('x1');
    sender.ws.send(Buffer.from([0xfe, 0x01]));
    await waitFor('x1 and the binary on both servers', () => onB.received.length === 2 && otherA.received.length === 2);
    await waitFor('the echoes came back to A', () => A.backplane.stats.ignoredOwn === 2);
    A.server.setRelay('echo');
    sender.ws.send('e1');
    await waitFor('the echo', () => sender.labels().includes('e1'));
    A.server.setRelay('none');
    sender.ws.send('n1');
    A.server.sendToAll('end');
    await waitFor('the end marker', () => sender.labels().includes('end') && onB.labels().includes('end'));

    assert.deepEqual(sender.labels(), ['e1', 'end'], 'the sender never gets its own message back through Redis');
    assert.deepEqual(otherA.labels(), ['x1', 'bin:fe01', 'end']);
    assert.deepEqual(onB.labels(), ['x1', 'bin:fe01', 'end']);
    assert.equal(A.backplane.stats.published, 3, 'x1, the binary and the sendToAll; not echo or none');
    assert.equal(B.backplane.stats.published, 0, 'B delivered, and published nothing back');
    assert.equal(B.backplane.stats.delivered, 3);
  });

  test('sendToAll reaches the clients of the other servers', async () => {
    const channel = newChannel();
    const A = await node(redis.url, channel);
    const B = await node(redis.url, channel);
    const C = await node(redis.url, channel);
    const onB = await client(B.url);
    const onC = await client(C.url);
    assert.equal(A.server.sendToAll(Buffer.from([1, 2, 3])), 0, 'no local client');
    A.server.sendToAll('to all');
    await waitFor('both messages on B and C', () => onB.received.length === 2 && onC.received.length === 2);
    assert.deepEqual(onB.labels(), ['bin:010203', 'to all']);
    assert.deepEqual(onC.labels(), ['bin:010203', 'to all']);
  });
});

describe('RedisBackplane: Redis goes away', () => {
  test('local broadcast goes on during the outage, publishes are dropped and counted, and the servers recover after a restart', async () => {
    const own = await startRedisServer();
    cleanups.push(() => own.dispose());
    const channel = newChannel();
    const A = await node(own.url, channel);
    const B = await node(own.url, channel);
    const senderA = await client(A.url);
    const watchA = await client(A.url);
    const watchB = await client(B.url);
    senderA.ws.send('before');
    await waitFor('before reaches B', () => watchB.labels().includes('before'));

    await own.stop();
    await waitFor('both reconnecting', () => A.backplane.state === 'reconnecting' && B.backplane.state === 'reconnecting');
    assert.ok(A.backplane.lastError, 'lastError says why');
    senderA.ws.send('during');
    A.server.sendToAll('during-ui');
    await waitFor('local broadcast during the outage', () => watchA.labels().includes('during') && watchA.labels().includes('during-ui'));
    assert.equal(A.backplane.stats.droppedWhileDown, 2);

    await own.restart();
    await waitFor('both connected again', () => A.backplane.state === 'connected' && B.backplane.state === 'connected');
    assert.equal(A.backplane.lastError, undefined, 'cleared once connected');
    for (const { states } of [A, B]) {
      assert.deepEqual(states.slice(-2), ['reconnecting', 'connected']);
      assert.deepEqual(states.slice(0, 2), ['connecting', 'connected']);
    }
    const senderB = await client(B.url);
    senderA.ws.send('after-A');
    senderB.ws.send('after-B');
    await waitFor('messages after recovery', () => watchB.labels().includes('after-A') && watchA.labels().includes('after-B'));
    assert.deepEqual(
      watchB.labels().filter((l) => l !== 'after-B'),
      ['before', 'after-A'],
      'nothing from the outage is replayed',
    );
  });

  test('stop() while reconnecting ends the retries at once; stop() while starting makes start() reject with ERR_STOPPED', async () => {
    const own = await startRedisServer();
    cleanups.push(() => own.dispose());
    const A = await node(own.url, newChannel());
    await own.stop();
    await waitFor('reconnecting', () => A.backplane.state === 'reconnecting');
    await A.backplane.stop();
    assert.equal(A.backplane.state, 'stopped');
    assert.deepEqual(A.states, ['connecting', 'connected', 'reconnecting', 'stopped']);

    await own.restart();
    const starting = A.backplane.start();
    await A.backplane.stop();
    await assert.rejects(starting, { code: 'ERR_STOPPED' });
    assert.equal(A.backplane.state, 'stopped');
    await A.backplane.start();
    assert.equal(A.backplane.state, 'connected');
  });

  test('start() rejects with a readable error when Redis cannot be reached, and the server is left as it was', async () => {
    const gone = await startRedisServer();
    const url = gone.url;
    await gone.dispose();
    const server = new BroadcastServer();
    const address = await server.start({ port: 0, heartbeatIntervalMs: 0 });
    cleanups.push(() => server.stop());
    const backplane = new RedisBackplane(server, { url, channel: newChannel() });
    const states: BackplaneState[] = [];
    backplane.onDidChangeState((e) => states.push(e.state));
    await assert.rejects(backplane.start(), (err: BackplaneError) => {
      assert.equal(err.code, 'ERR_REDIS_UNREACHABLE');
      assert.match(err.message, new RegExp(`^Cannot reach Redis at redis://127\\.0\\.0\\.1:\\d+: .*ECONNREFUSED`));
      return true;
    });
    assert.equal(backplane.state, 'stopped');
    assert.deepEqual(states, ['connecting', 'stopped']);
    assert.match(backplane.lastError ?? '', /ECONNREFUSED/);
    const a = await client(address.url);
    const b = await client(address.url);
    a.ws.send('still local');
    await waitFor('local relay', () => b.received.length === 1);
    assert.equal(backplane.stats.droppedWhileDown, 0, 'the hook was never set');
  });
});

describe('RedisBackplane: bare envelope', () => {
  test('a redis-cli PUBLISH reaches the clients; own publishes are raw bytes and not delivered back', async () => {
    const channel = newChannel();
    const A = await node(redis.url, channel, { envelope: 'bare' });
    const B = await node(redis.url, channel, { envelope: 'bare' });
    const raw: Buffer[] = [];
    const spy = createClient({ url: redis.url, RESP: 2 });
    spy.on('error', () => {});
    await spy.connect();
    cleanups.push(() => spy.destroy());
    await spy.subscribe(channel, (m: Buffer) => raw.push(m), true);
    const onA = await client(A.url);
    const onB = await client(B.url);

    assert.equal((await redis.cli('PUBLISH', channel, 'hello')).trim(), '3');
    await waitFor('hello on both', () => onA.received.length === 1 && onB.received.length === 1);
    assert.deepEqual(onA.received, [{ data: Buffer.from('hello'), isBinary: false }]);

    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    onA.ws.send(bytes);
    onA.ws.send('hi ✓');
    await waitFor('the two messages on B and on the channel', () => onB.received.length === 3 && raw.length === 3);
    assert.deepEqual(raw, [Buffer.from('hello'), bytes, Buffer.from('hi ✓')], 'published as the bare payload');
    assert.deepEqual(onB.received.slice(1), [
      { data: bytes, isBinary: true },
      { data: Buffer.from('hi ✓'), isBinary: false },
    ]);
    await waitFor('A recognized its own two messages', () => A.backplane.stats.ignoredOwn === 2);
    // The same bytes from another publisher are not A's: they are delivered.
    await redis.cli('PUBLISH', channel, 'hi ✓');
    await waitFor('the cli copy', () => onA.received.length === 4);
    A.server.sendToAll('end');
    await waitFor('the end marker', () => onA.labels().includes('end') && onB.labels().includes('end'));
    assert.deepEqual(onA.labels(), ['hello', `bin:${bytes.toString('hex')}`, 'hi ✓', 'hi ✓', 'end']);
    assert.equal(A.backplane.stats.ignoredOwn, 3);
    assert.equal(A.backplane.stats.delivered, 2);
  });
});

describe('RedisBackplane: capture', () => {
  test('the backplane is its own connection: published envelopes out (c2s), other servers’ in (s2c), own echoes not recorded', async () => {
    const store = new EventStore({ batchIntervalMs: 1 });
    cleanups.push(() => store.dispose());
    const channel = newChannel();
    const A = await node(redis.url, channel, { capture: store, serverId: 'server-a' });
    const B = await node(redis.url, channel, { serverId: 'server-b' });
    const onA = await client(A.url);
    const onB = await client(B.url);
    onA.ws.send('out1');
    onB.ws.send(Buffer.from([0, 0xff]));
    await waitFor('both messages everywhere', () => onA.received.length === 2 && onB.received.length === 2);
    await waitFor('own echo', () => A.backplane.stats.ignoredOwn === 1);

    const id = A.backplane.connectionId;
    assert.match(id, /^backplane\d+$/);
    const events = store.query({ connectionId: id }).events;
    const open = events.find((e) => e.kind === 'connection') as ConnectionEvent;
    assert.equal(open.state, 'open');
    assert.deepEqual(open.meta, {
      source: 'backplane',
      url: `redis://127.0.0.1:${redis.port}`,
      channel,
      envelope: 'json',
      serverId: 'server-a',
    });
    const frames = events.filter((e) => e.kind === 'frame') as FrameEvent[];
    assert.deepEqual(
      frames.map((f) => [f.direction, f.opcode, f.payload.toString()]),
      [
        ['c2s', 1, '{"v":1,"server":"server-a","type":"text","data":"out1"}'],
        ['s2c', 1, '{"v":1,"server":"server-b","type":"binary","data":"AP8="}'],
      ],
    );
    const messages = events.filter((e) => e.kind === 'message') as MessageEvent[];
    assert.deepEqual(messages.map((m) => m.frameIds), frames.map((f) => [f.id]));

    await A.backplane.stop();
    const closed = store.query({ connectionId: id, kinds: ['connection'] }).events as ConnectionEvent[];
    assert.deepEqual(closed.map((e) => e.state), ['open', 'closed']);
    assert.equal(A.backplane.state, 'stopped');
  });

  test('an outage is on the timeline: the connection closes (not cleanly, with the reason) and opens again', async () => {
    const own = await startRedisServer();
    cleanups.push(() => own.dispose());
    const store = new EventStore({ batchIntervalMs: 1 });
    cleanups.push(() => store.dispose());
    const A = await node(own.url, newChannel(), { capture: store });
    const watch = await client(A.url);
    await own.stop();
    await waitFor('reconnecting', () => A.backplane.state === 'reconnecting');
    watch.ws.send('during the outage');
    await waitFor('the local relay', () => watch.labels().includes('during the outage'));
    await own.restart();
    await waitFor('connected again', () => A.backplane.state === 'connected');
    await A.backplane.stop();

    const events = store.query({ connectionId: A.backplane.connectionId, kinds: ['connection'] }).events as ConnectionEvent[];
    assert.deepEqual(
      events.map((e) => [e.state, e.clean, e.meta?.reconnected]),
      [
        ['open', undefined, undefined],
        ['closed', false, undefined],
        ['open', undefined, 'true'],
        ['closed', true, undefined],
      ],
    );
    assert.match(events[1].reason ?? '', /^Redis connection lost.*; relaying locally until it is back$/);
    assert.equal(events[3].reason, 'stopped');
    // The message relayed during the outage stayed local: counted as dropped, nothing published between the two.
    assert.equal(A.backplane.stats.droppedWhileDown, 1);
    const messages = store.query({ connectionId: A.backplane.connectionId, kinds: ['message'] }).events;
    assert.deepEqual(messages.filter((e) => e.id > events[1].id && e.id < events[2].id), []);
  });

  test('a malformed envelope is recorded as an error event and counted; the backplane goes on', async () => {
    const store = new EventStore({ batchIntervalMs: 1 });
    cleanups.push(() => store.dispose());
    const channel = newChannel();
    const A = await node(redis.url, channel, { capture: store, maxMessageBytes: 200 });
    const onA = await client(A.url);
    await redis.cli('PUBLISH', channel, 'not json');
    await redis.cli('PUBLISH', channel, '{"v":2,"server":"x","type":"text","data":"future"}');
    await redis.cli('PUBLISH', channel, '{"v":1,"server":"x","type":"binary","data":"%%"}');
    await redis.cli('PUBLISH', channel, 'x'.repeat(201));
    await redis.cli('PUBLISH', channel, '{"v":1,"server":"cli","type":"text","data":"ok"}');
    await waitFor('the valid message', () => onA.received.length === 1);
    assert.deepEqual(onA.labels(), ['ok']);
    const errors = store.query({ connectionId: A.backplane.connectionId, kinds: ['error'] }).events as ErrorEvent[];
    assert.deepEqual(
      errors.map((e) => [e.code, e.direction, e.closeCode]),
      [
        ['ERR_ENVELOPE_JSON', 's2c', 1007],
        ['ERR_ENVELOPE_VERSION', 's2c', 1007],
        ['ERR_ENVELOPE_BASE64', 's2c', 1007],
        ['ERR_ENVELOPE_TOO_LARGE', 's2c', 1009],
      ],
    );
    for (const e of errors) assert.match(e.message, /^Backplane message skipped: /);
    const inFrames = store.query({ connectionId: A.backplane.connectionId, kinds: ['frame'] }).events as FrameEvent[];
    assert.equal(inFrames.length, 5, 'the bad messages are recorded as they came, beside their errors');
    const s = A.backplane.stats;
    assert.deepEqual([s.received, s.malformed, s.delivered], [5, 4, 1]);
    assert.equal(A.backplane.state, 'connected');
  });
});

describe('RedisBackplane: lifecycle and options', () => {
  test('a password in the URL is used and never shown; a wrong one fails start() with Redis’s reason', async () => {
    const locked = await startRedisServer({ password: 's3cret' });
    cleanups.push(() => locked.dispose());
    const store = new EventStore({});
    cleanups.push(() => store.dispose());
    const A = await node(locked.url, newChannel(), { capture: store });
    const shown = `redis://:***@127.0.0.1:${locked.port}`;
    assert.equal(A.backplane.displayUrl, shown);
    const open = store.query({ kinds: ['connection'] }).events[0] as ConnectionEvent;
    assert.equal(open.meta?.url, shown);

    const wrong = new RedisBackplane(A.server, { url: `redis://:wrong-pass@127.0.0.1:${locked.port}`, channel: 'c' });
    await assert.rejects(wrong.start(), (err: BackplaneError) => {
      assert.equal(err.code, 'ERR_REDIS_UNREACHABLE');
      assert.match(err.message, /WRONGPASS|invalid password|invalid username-password/i);
      assert.doesNotMatch(err.message, /wrong-pass/);
      return true;
    });
    assert.equal(wrong.state, 'stopped');
  });

  test('stop() unhooks the server (its messages stay local), and start() works again', async () => {
    const channel = newChannel();
    const A = await node(redis.url, channel);
    const B = await node(redis.url, channel);
    const onA = await client(A.url);
    const onB = await client(B.url);
    await A.backplane.stop();
    assert.equal(A.backplane.state, 'stopped');
    onA.ws.send('local only');
    await waitFor('local relay', () => onA.received.length === 1);
    assert.equal(A.backplane.stats.published, 0);
    assert.equal(A.backplane.stats.droppedWhileDown, 0, 'not even offered to the backplane');

    await A.backplane.start();
    assert.equal(A.backplane.state, 'connected');
    assert.deepEqual(A.states, ['connecting', 'connected', 'stopped', 'connecting', 'connected']);
    onA.ws.send('shared');
    await waitFor('shared reaches B', () => onB.received.length === 1);
    assert.deepEqual(onB.labels(), ['shared']);
    await assert.rejects(A.backplane.start(), { code: 'ERR_ALREADY_STARTED' });
  });

  test('invalid options are TypeErrors that say what is expected', () => {
    const server = new BroadcastServer();
    const bad: Array<[Partial<RedisBackplaneOptions>, RegExp]> = [
      [{ url: 'http://x', channel: 'c' }, /redis:\/\/ or rediss:\/\//],
      [{ url: 'not a url', channel: 'c' }, /not a valid URL/],
      [{ url: 'redis://h', channel: '' }, /channel/],
      [{ url: 'redis://h', channel: 'c', envelope: 'xml' as never }, /envelope/],
      [{ url: 'redis://h', channel: 'c', serverId: '' }, /serverId/],
      [{ url: 'redis://h', channel: 'c', reconnect: { initialDelayMs: 0 } }, /initialDelayMs/],
      [{ url: 'redis://h', channel: 'c', reconnect: { initialDelayMs: 500, maxDelayMs: 100 } }, /maxDelayMs/],
      [{ url: 'redis://h', channel: 'c', maxMessageBytes: -1 }, /maxMessageBytes/],
    ];
    for (const [options, message] of bad) {
      assert.throws(() => new RedisBackplane(server, options as RedisBackplaneOptions), (err: Error) => err instanceof TypeError && message.test(err.message));
    }
    assert.throws(() => new RedisBackplane(server, { url: 'http://:pw@x', channel: 'c' }), (err: Error) => !err.message.includes('pw'));
  });

  test('redactRedisUrl hides the password only', () => {
    assert.equal(redactRedisUrl('redis://user:secret@host:6379/2'), 'redis://user:***@host:6379/2');
    assert.equal(redactRedisUrl('rediss://:p%40ss@h'), 'rediss://:***@h');
    assert.equal(redactRedisUrl('redis://host:6379'), 'redis://host:6379');
    assert.equal(redactRedisUrl(':pw@host'), '***@host');
  });
});
