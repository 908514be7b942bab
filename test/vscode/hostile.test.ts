// The seeded fuzz of test/fuzz/cases.ts against the server the command started, inside the real extension host:
// each hostile sequence closes only its own connection with the RFC code (or is refused with its HTTP status), the
// violation is in the session's store, the well-behaved clients keep receiving broadcasts throughout, and the host
// goes on serving. WSI_FUZZ_CASES / WSI_FUZZ_SEED (in the environment of the test run) change the run.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import WebSocket from 'ws';
import type { CaptureEvent, ConnectionEvent, ErrorEvent, FrameEvent, HandshakeEvent } from '../../src/core/capture/events';
import type { EventStore } from '../../src/core/capture/eventStore';
import type { ExtensionApi } from '../../src/extension/extension';
import { FuzzRunner, KIND_COUNT, type Case } from '../fuzz/cases';
import { waitFor } from '../support/waitFor';

const CASES = Number(process.env.WSI_FUZZ_CASES) || 3000;
const SEED = Number(process.env.WSI_FUZZ_SEED) || 0x0e47_4057;
const PARALLEL = 12;
const CHECK_EVERY = 60;
const MAX_PAYLOAD = 64 * 1024;

/** The events the store holds for the connection from `localPort` that came after `mark`, once it has closed. */
async function capturedConnection(store: EventStore, localPort: number, mark: number): Promise<CaptureEvent[]> {
  const remote = `127.0.0.1:${localPort}`;
  const closed = await waitFor(`a closed connection from ${remote} in the store`, () => {
    const conns = store.query({ afterId: mark, kinds: ['connection'], limit: 10_000 }).events as ConnectionEvent[];
    return conns.find((e) => e.state === 'closed' && e.meta?.remote === remote);
  }, 5000);
  return store.query({ afterId: mark, beforeId: closed.id + 1, connectionId: closed.connectionId, limit: 1000 }).events;
}

/** What the session's store must hold for a case: the violation with its code, the close the server sent, the refused handshake. */
function checkCaptured(c: Case, events: CaptureEvent[]): void {
  const errors = events.filter((e): e is ErrorEvent => e.kind === 'error');
  const closes = (dir: 'c2s' | 's2c') =>
    events.filter((e): e is FrameEvent => e.kind === 'frame' && e.opcode === 8 && e.direction === dir).map((f) => f.closeCode);
  const got = () => `errors [${errors.map((e) => `${e.code}/${e.closeCode}`).join(', ')}], server closes [${closes('s2c').join(', ')}]`;
  const x = c.expect;
  if ('status' in x) {
    if (x.error) {
      assert.ok(errors.some((e) => x.error!.includes(e.code)), `recorded one of ${x.error.join(', ')}; ${got()}`);
    } else {
      const hs = events.find((e): e is HandshakeEvent => e.kind === 'handshake');
      assert.equal(hs?.status, x.status, 'the refused handshake is recorded with its status');
      assert.equal(hs.ok, false);
    }
  } else if ('close' in x) {
    assert.ok(
      errors.some((e) => x.error.includes(e.code) && e.closeCode === (x.captured ?? x.close)),
      `recorded one of ${x.error.join(', ')} calling for ${x.captured ?? x.close}; ${got()}`,
    );
    assert.ok(closes('s2c').includes(x.close), `the server's close frame ${x.close} is recorded; ${got()}`);
  } else if ('clean' in x) {
    assert.deepEqual(errors, [], 'a clean close is no violation');
    assert.deepEqual([closes('c2s'), closes('s2c')], [[1000], [1000]]);
  } else {
    assert.deepEqual(closes('s2c'), [], 'no close frame for a connection that just ended');
  }
}

describe('hostile traffic against the command-started server, in a real extension host', function () {
  this.timeout(150_000);
  let api: ExtensionApi;
  let extensionPath = '';
  const config = () => vscode.workspace.getConfiguration('wsInspector');
  const good: Array<{ ws: WebSocket; ticks: string[] }> = [];
  /** Errors that escaped to the process from the extension's own code. */
  const escaped: string[] = [];
  const onEscaped = (err: unknown) => {
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    if (text.includes(`${extensionPath}/dist/`)) escaped.push(text);
  };

  before(async () => {
    const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'websocket-inspector')!;
    extensionPath = ext.extensionPath;
    api = (await ext.activate()) as ExtensionApi;
    process.on('uncaughtExceptionMonitor', onEscaped);
    process.on('unhandledRejection', onEscaped);
    await vscode.commands.executeCommand('wsInspector.stopServer');
    await config().update('server.port', 0, vscode.ConfigurationTarget.Global);
    // The generator's "over maxPayload" cases are sized from it; the default (1 MiB) works too, only slower.
    await config().update('server.maxPayload', MAX_PAYLOAD, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('wsInspector.startServer');
    assert.ok(api.session.serverAddress, 'the command started the server');
    for (let i = 0; i < 2; i++) {
      const ws = new WebSocket(api.session.serverAddress.url, { headers: { 'User-Agent': `well-behaved-${i}` } });
      const entry = { ws, ticks: [] as string[] };
      ws.on('message', (d) => {
        const s = String(d);
        if (s.startsWith('tick ')) entry.ticks.push(s);
      });
      ws.on('error', () => {});
      await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
      good.push(entry);
    }
  });

  after(async () => {
    process.off('uncaughtExceptionMonitor', onEscaped);
    process.off('unhandledRejection', onEscaped);
    for (const g of good) g.ws.terminate();
    await vscode.commands.executeCommand('wsInspector.stopServer');
    await config().update('server.maxPayload', undefined, vscode.ConfigurationTarget.Global);
  });

  it(`${CASES} seeded hostile sequences: each closed with its RFC code or HTTP status and recorded; broadcasts go on; the host stays up`, async () => {
    const store = api.session.store;
    const address = api.session.serverAddress!;
    let tick = 0;
    // Alternately relayed from a well-behaved client and sent by the command: both paths must keep working.
    const checkBroadcasts = async () => {
      const msg = `tick ${++tick}`;
      if (tick % 2) good[0].ws.send(msg);
      else await vscode.commands.executeCommand('wsInspector.sendToAll', msg);
      await waitFor(
        () => `${msg} at the well-behaved clients (they have ${good.map((g) => g.ticks.at(-1)).join(', ')})`,
        () => good.every((g) => g.ticks.at(-1) === msg),
        5000,
      );
      for (const g of good) assert.equal(g.ws.readyState, WebSocket.OPEN);
    };
    const before = store.stats().lastId;
    const violations = new Map<string, number>();
    let violating = 0;
    const runner = new FuzzRunner({
      seed: SEED,
      port: address.port,
      maxPayload: MAX_PAYLOAD,
      mark: () => store.stats().lastId,
      serverSide: async (c, localPort, mark) => {
        const events = await capturedConnection(store, localPort, mark);
        checkCaptured(c, events);
        if ('close' in c.expect || ('status' in c.expect && c.expect.error)) violating++;
        for (const e of events) if (e.kind === 'error') violations.set(e.code, (violations.get(e.code) ?? 0) + 1);
      },
    });
    const t0 = Date.now();
    try {
      await checkBroadcasts();
      while (runner.done < CASES) {
        await runner.run(Math.min(CHECK_EVERY, CASES - runner.done), PARALLEL);
        await checkBroadcasts();
      }
    } catch (err) {
      console.log(`hostile fuzz FAILED with WSI_FUZZ_SEED=${SEED}: ${runner.failed ?? `after case ${runner.done}`}`);
      throw err;
    }
    console.log(
      `    hostile fuzz: seed ${SEED}, ${runner.done} cases of ${runner.kinds.size} kinds in ${((Date.now() - t0) / 1000).toFixed(1)} s; ` +
        `violations in the store: ${[...violations].map(([k, n]) => `${k} ${n}`).join(', ')}`,
    );
    assert.equal(runner.kinds.size, KIND_COUNT, 'every kind of case ran');

    // The host goes on: the same server on the same port, only the well-behaved clients left, a new client served.
    assert.equal(api.session.serverAddress?.port, address.port);
    await waitFor(
      () => `${good.length} clients (${api.session.clientCount} are connected)`,
      () => api.session.clientCount === good.length,
      5000,
    );
    const late = new WebSocket(address.url);
    const lateGot = new Promise<string>((r) => late.once('message', (d) => r(String(d))));
    await new Promise((r, j) => (late.once('open', r), late.once('error', j)));
    await vscode.commands.executeCommand('wsInspector.sendToAll', 'after the fuzz');
    assert.equal(await lateGot, 'after the fuzz');
    late.terminate();
    // Still there at the end, not evicted by the traffic that followed.
    const recorded = store.query({ kinds: ['error'], afterId: before, limit: 10_000 }).events.length;
    assert.ok(recorded >= violating, `${recorded} violations in the store for ${violating} violating cases`);
    assert.deepEqual(escaped, [], 'no error escaped from the extension to the process');
  });
});
