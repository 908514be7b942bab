// The scenario runner's overhead: 1,000 send/expect round trips as a scenario (a repeat of send + expect, each message
// filled in and checked) against the same round trips in a plain ws loop, in the same run, on one ws echo server in a
// process of its own. Rounds alternate the variants so that they share this shared machine's drift; the ratio is the
// median of per-round ratios. The runner is measured with capture off (the CLI without --export) and on (the editor,
// every frame into an EventStore).
// Knobs: SCENARIO_ROUNDTRIPS (default 1000), SCENARIO_ROUNDS (default 7).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { EventStore } from '../src/core/capture/eventStore';
import { parseScenarioFile, runFile, type ScenarioFile } from '../src/core/scenarios';
import type { BenchRow } from './row';

const N = Number(process.env.SCENARIO_ROUNDTRIPS) || 1000;
const ROUNDS = Number(process.env.SCENARIO_ROUNDS) || 7;
const WARMUP_ROUNDS = 2;

/** ws's idiomatic echo server, in a child process: the far side of both variants. */
const ECHO = `
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' }, () => process.send(wss.address().port));
wss.on('connection', (ws) => { ws.on('error', () => {}); ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary })); });
`;

async function startEcho(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['-e', ECHO], { cwd: process.cwd(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [port] = (await once(child, 'message')) as [number];
  return { child, url: `ws://127.0.0.1:${port}` };
}

/** The baseline: one ws client sends a message, awaits the next one and checks it, N times. Milliseconds. */
async function direct(url: string): Promise<number> {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  await once(ws, 'open');
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const text = `m ${i}`;
    const reply = new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d)));
    ws.send(text);
    if ((await reply).toString() !== text) throw new Error('echo mismatch');
  }
  const ms = performance.now() - t0;
  ws.close();
  await once(ws, 'close');
  return ms;
}

function scenario(): ScenarioFile {
  const text = [
    'endpoints: { echo: "${env:ECHO_URL}" }',
    'scenarios:',
    '  round trips:',
    '    - connect: echo',
    `    - repeat: { times: ${N}, steps: [ { send: { text: "m \${index}" } }, { expect: { text: "m \${index}" } } ] }`,
    '    - close: { expectCode: 1000 }',
  ].join('\n');
  const { file, diagnostics } = parseScenarioFile(text);
  if (diagnostics.length > 0) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return file;
}

/** The same round trips through the runner: the repeat step's time. Milliseconds. */
async function viaRunner(file: ScenarioFile, url: string, capture: boolean): Promise<number> {
  const store = capture ? new EventStore() : undefined;
  try {
    const [r] = await runFile(file, { env: { ECHO_URL: url }, capture: store });
    if (r.status !== 'passed') throw new Error(`the scenario failed: ${r.message}`);
    return r.steps.find((s) => s.kind === 'repeat' && s.path.length === 1)!.durationMs;
  } finally {
    store?.dispose();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchScenarios(): Promise<BenchRow[]> {
  const { child, url } = await startEcho();
  try {
    const file = scenario();
    const t = { direct: [] as number[], runner: [] as number[], capture: [] as number[] };
    for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
      const d = await direct(url);
      const r = await viaRunner(file, url, false);
      const c = await viaRunner(file, url, true);
      if (round < WARMUP_ROUNDS) continue;
      t.direct.push(d);
      t.runner.push(r);
      t.capture.push(c);
    }
    const ratio = (xs: number[]) => median(xs.map((x, i) => x / t.direct[i]));
    const runner = ratio(t.runner);
    const n = N.toLocaleString('en-US');
    return [
      { name: `scenarios: ${n} round trips, plain ws loop`, value: median(t.direct), unit: 'ms' },
      { name: `scenarios: ${n} send/expect steps, runner`, value: median(t.runner), unit: 'ms', ratio: runner, baseline: 'ws loop (time)', goal: '<= 1.50x ws loop', met: runner <= 1.5 },
      { name: `scenarios: ${n} send/expect steps, runner + capture`, value: median(t.capture), unit: 'ms', ratio: ratio(t.capture), baseline: 'ws loop (time)' },
    ];
  } finally {
    child.kill();
  }
}
