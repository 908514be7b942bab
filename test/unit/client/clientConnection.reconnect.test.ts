// Reconnect storms are bounded: against real loopback endpoints that refuse, drop, or upgrade and close at once,
// a ClientConnection never tries more often than its capped, jittered backoff allows, waits every delay it
// announces, and stops for good when closed or disposed (no attempt, timer or socket left behind).
// The bounds are computed from the options and the time that really passed: a slow machine makes fewer attempts,
// never more, so nothing here depends on how fast the machine is.

import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import { connect, type ClientConnection, type ClientStateChange, type ReconnectOptions } from '../../../src/core/client/clientConnection';
import { sleep, waitFor } from '../../support/waitFor';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Backoff = Required<Pick<ReconnectOptions, 'initialDelayMs' | 'maxDelayMs' | 'jitter'>>;

/** The un-jittered delay before reconnect attempt `n` (1-based): initial·2^(n-1), capped. */
const baseDelay = (n: number, b: Backoff) => Math.min(b.maxDelayMs, b.initialDelayMs * 2 ** (n - 1));
/** The shortest delay the options allow before attempt `n`; jitter only takes off, at most `jitter` of it. */
const minDelay = (n: number, b: Backoff) => Math.floor(baseDelay(n, b) * (1 - b.jitter));
/** Node may run a timer up to 1 ms before its delay as measured by performance.now(). */
const TIMER_SLACK_MS = 1;

/**
 * The most connection attempts (the first included) that fit into `elapsedMs` when every wait is as short as the
 * options allow and connecting takes no time at all: what a correct client can never exceed.
 */
function maxAttemptsWithin(elapsedMs: number, b: Backoff): number {
  let attempts = 1;
  let t = 0;
  for (let n = 1; attempts < 1e6; n++) {
    t += Math.max(0, minDelay(n, b) - TIMER_SLACK_MS);
    if (t > elapsedMs) break;
    attempts++;
  }
  return attempts;
}

interface Observed {
  conn: ClientConnection;
  /** State changes with the time they were seen (performance.now()). */
  log: Array<ClientStateChange & { at: number }>;
  startedAt: number;
  attempts: () => number;
}

function observe(url: string, reconnect: ReconnectOptions): Observed {
  const conn = connect(url, { reconnect: { enabled: true, ...reconnect }, handshakeTimeout: 2000 });
  const log: Observed['log'] = [];
  conn.onDidChangeState((s) => log.push({ ...s, at: performance.now() }));
  cleanups.push(() => conn.dispose());
  return { conn, log, startedAt: performance.now(), attempts: () => log.filter((s) => s.state === 'connecting').length };
}

/**
 * Checks one client's history against its options: each announced delay is within the jittered band of its attempt
 * and never above the cap, each was really waited before the next attempt, and the attempts fit the bound.
 */
function checkHistory(o: Observed, b: Backoff, label: string): void {
  const waits = o.log.filter((s) => s.state === 'reconnecting');
  assert.ok(waits.length > 0, `${label}: it reconnected`);
  for (const w of waits) {
    const n = w.attempt!;
    assert.ok(w.delayMs! <= b.maxDelayMs, `${label}: attempt ${n} waits ${w.delayMs} ms, above the cap ${b.maxDelayMs}`);
    assert.ok(w.delayMs! <= baseDelay(n, b), `${label}: attempt ${n} waits ${w.delayMs} ms, above its base ${baseDelay(n, b)}`);
    assert.ok(w.delayMs! >= minDelay(n, b), `${label}: attempt ${n} waits ${w.delayMs} ms, below ${minDelay(n, b)}`);
    assert.ok(w.delayMs! >= Math.floor(b.initialDelayMs * (1 - b.jitter)), `${label}: below the initial delay less its jitter`);
  }
  // The announced wait is the real one: the next attempt starts no sooner.
  for (let i = 0; i < o.log.length; i++) {
    const s = o.log[i];
    if (s.state !== 'reconnecting') continue;
    const next = o.log.slice(i + 1).find((x) => x.state === 'connecting' || x.state === 'closed');
    if (next?.state !== 'connecting') continue;
    assert.ok(
      next.at - s.at >= s.delayMs! - TIMER_SLACK_MS,
      `${label}: attempt ${next.attempt} started ${(next.at - s.at).toFixed(1)} ms after announcing ${s.delayMs} ms`,
    );
  }
  const last = o.log.filter((s) => s.state === 'connecting').at(-1)!;
  const bound = maxAttemptsWithin(last.at - o.startedAt, b);
  assert.ok(o.attempts() <= bound, `${label}: ${o.attempts()} attempts in ${(last.at - o.startedAt).toFixed(0)} ms; the backoff allows ${bound}`);
}

/** Timers and TCP handles of this process, to see that a stopped client leaves none behind. */
function handles(): { timers: number; sockets: number } {
  const r = process.getActiveResourcesInfo();
  return { timers: r.filter((x) => x === 'Timeout').length, sockets: r.filter((x) => x === 'TCPSocketWrap').length };
}

/** A port with no listener: every attempt is refused at once. */
async function refusingPort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** Accepts TCP and destroys it at once, before any HTTP: counts the attempts from the server's side. */
async function droppingServer(port = 0) {
  const state = { accepted: 0 };
  const sockets = new Set<net.Socket>();
  const s = net.createServer((socket) => {
    state.accepted++;
    socket.on('error', () => {});
    socket.destroy();
  });
  s.listen(port, '127.0.0.1');
  await once(s, 'listening');
  cleanups.push(() => {
    for (const x of sockets) x.destroy();
    return new Promise((r) => s.close(r));
  });
  return { port: (s.address() as net.AddressInfo).port, state, close: () => new Promise((r) => s.close(r)) };
}

/** Completes the upgrade, then closes with 1013 "try again later": each attempt opens, then is gone at once. */
async function upgradeThenCloseServer() {
  const state = { upgraded: 0, hold: false };
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', (ws) => {
    state.upgraded++;
    ws.on('error', () => {});
    if (!state.hold) ws.close(1013, 'try again later');
  });
  cleanups.push(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise((r) => wss.close(r));
  });
  return { url: `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}/`, state, wss };
}

const BACKOFF: Backoff = { initialDelayMs: 20, maxDelayMs: 160, jitter: 0.5 };
/** Enough reconnects to pass the cap (attempt 4 reaches 160 ms) and stay there a while. */
const RECONNECTS = 10;

describe('ClientConnection reconnect storms are bounded', () => {
  test('a refusing port: delays grow to the cap within their jitter band, and the attempts fit the bound', async () => {
    const before = handles();
    const o = observe(`ws://127.0.0.1:${await refusingPort()}/`, BACKOFF);
    await waitFor(`${RECONNECTS} reconnects`, () => o.log.filter((s) => s.state === 'reconnecting').length >= RECONNECTS);
    checkHistory(o, BACKOFF, 'refused');
    const atCap = o.log.filter((s) => s.state === 'reconnecting' && s.attempt! >= 4);
    assert.ok(atCap.length >= RECONNECTS - 3);
    for (const w of atCap) assert.ok(w.delayMs! >= 80 && w.delayMs! <= 160, `at the cap: ${w.delayMs}`);
    assert.equal(o.log.find((s) => s.state === 'reconnecting')!.error?.code, 'ECONNREFUSED');

    // close() in the middle of a wait: 'closed' at once, nothing after it.
    await waitFor('a wait', () => o.conn.state === 'reconnecting');
    o.conn.close();
    assert.equal(o.conn.state, 'closed');
    // With no timer and no socket of its own left, it can make no attempt: no need to watch a window of time.
    const n = o.log.length;
    await waitFor('timers and sockets to go', () => {
      const h = handles();
      return h.timers <= before.timers && h.sockets <= before.sockets;
    }, 3000).catch(() => assert.fail(`left behind: ${JSON.stringify(handles())} vs ${JSON.stringify(before)}`));
    assert.equal(o.log.length, n, 'no attempt after close()');
  });

  test('a server that drops every connection: the server counts no more attempts than the bound, none after dispose()', async () => {
    const before = handles();
    const server = await droppingServer();
    const o = observe(`ws://127.0.0.1:${server.port}/`, BACKOFF);
    await waitFor(`${RECONNECTS} reconnects`, () => o.log.filter((s) => s.state === 'reconnecting').length >= RECONNECTS);
    checkHistory(o, BACKOFF, 'dropped');
    assert.match(o.log.find((s) => s.state === 'reconnecting')!.error!.message, /closed|hang up|reset/i);
    const elapsed = performance.now() - o.startedAt;
    assert.ok(server.state.accepted <= maxAttemptsWithin(elapsed, BACKOFF), `${server.state.accepted} connections in ${elapsed.toFixed(0)} ms`);

    // dispose() while an attempt may be in flight: the server sees nothing more, and no timer or socket is left.
    o.conn.dispose();
    const accepted = server.state.accepted;
    // A window, not a condition: how many connections the server accepts is seen only over time.
    await sleep(BACKOFF.maxDelayMs * 3);
    assert.ok(server.state.accepted <= accepted + 1, 'at most the attempt already in flight');
    const settled = server.state.accepted;
    await sleep(BACKOFF.maxDelayMs * 2);
    assert.equal(server.state.accepted, settled, 'no attempt after dispose()');
    await server.close();
    await waitFor('timers and sockets to go', () => {
      const h = handles();
      return h.timers <= before.timers && h.sockets <= before.sockets;
    }, 3000).catch(() => assert.fail(`left behind: ${JSON.stringify(handles())} vs ${JSON.stringify(before)}`));
  });

  test('a server that upgrades and closes at once: a connection that did not stay open does not reset the backoff', async () => {
    const server = await upgradeThenCloseServer();
    const b = { ...BACKOFF, stableAfterMs: 1000 };
    const o = observe(server.url, b);
    await waitFor(`${RECONNECTS} reconnects`, () => o.log.filter((s) => s.state === 'reconnecting').length >= RECONNECTS);
    assert.ok(o.log.filter((s) => s.state === 'open').length >= RECONNECTS - 1, 'each attempt did open');
    checkHistory(o, b, 'upgrade, then 1013');
    const waits = o.log.filter((s) => s.state === 'reconnecting');
    assert.equal(waits[0].code, 1013);
    assert.deepEqual(
      waits.map((w) => w.attempt),
      waits.map((_, i) => i + 1),
      'the attempt count keeps growing across short-lived opens',
    );
    assert.ok(server.state.upgraded <= maxAttemptsWithin(performance.now() - o.startedAt, b));

    // Now the server keeps the next connection: once it has stayed open past stableAfterMs, a drop starts over.
    server.state.hold = true;
    const opens = o.log.filter((s) => s.state === 'open').length;
    await waitFor('the held connection', () => o.log.filter((s) => s.state === 'open').length > opens, 5000);
    const openedAt = o.log.filter((s) => s.state === 'open').at(-1)!.at;
    await waitFor('it stays open past stableAfterMs', () => performance.now() - openedAt > b.stableAfterMs + 20, 5000);
    const seen = o.log.length;
    for (const ws of server.wss.clients) ws.close(1012, 'restarting');
    await waitFor('the reconnect after a stable connection', () => o.log.slice(seen).some((s) => s.state === 'reconnecting'));
    const again = o.log.slice(seen).find((s) => s.state === 'reconnecting')!;
    assert.equal(again.code, 1012);
    assert.equal(again.attempt, 1, 'a connection that stayed open resets the count');
    assert.ok(again.delayMs! <= b.initialDelayMs);
    o.conn.close();
  });

  test('50 clients against a server that is down: together within 50 times the bound, spread by jitter, all stop', async () => {
    const port = await refusingPort();
    const before = handles();
    const b: Backoff = { initialDelayMs: 50, maxDelayMs: 400, jitter: 0.3 };
    const clients = Array.from({ length: 50 }, () => observe(`ws://127.0.0.1:${port}/`, b));
    await waitFor('every client at its 5th reconnect', () =>
      clients.every((c) => c.log.filter((s) => s.state === 'reconnecting').length >= 5));
    const elapsed = performance.now() - clients[0].startedAt;
    const total = clients.reduce((n, c) => n + c.attempts(), 0);
    assert.ok(total <= 50 * maxAttemptsWithin(elapsed, b), `${total} attempts by 50 clients in ${elapsed.toFixed(0)} ms`);
    clients.forEach((c, i) => checkHistory(c, b, `client ${i}`));
    // Jitter: the clients that failed together do not retry in step.
    const firstWaits = new Set(clients.map((c) => c.log.find((s) => s.state === 'reconnecting')!.delayMs));
    assert.ok(firstWaits.size >= 5, `first waits spread: ${[...firstWaits].join(', ')}`);

    // The server comes back on that port only after every client was disposed and its attempts in flight were refused:
    // nobody knocks within twice the longest wait (a window: the server sees attempts only over time).
    for (const c of clients) c.conn.dispose();
    await waitFor('the refused attempts to end', () => handles().sockets <= before.sockets);
    const server = await droppingServer(port);
    await sleep(b.maxDelayMs * 2);
    assert.equal(server.state.accepted, 0, 'no attempt after dispose()');
    await waitFor('timers and sockets to go', () => {
      const h = handles();
      return h.timers <= before.timers && h.sockets <= before.sockets;
    }, 3000).catch(() => assert.fail(`left behind: ${JSON.stringify(handles())} vs ${JSON.stringify(before)}`));
  });
});
