// Load benchmark (issue 6): how much one broadcast server carries, against the plain-ws server measured in the same run.
// 1. Fan-out: 1,000 clients, 1 KiB messages broadcast to all; the highest inbound rate (from a few senders) whose p99
//    send-to-receive latency stays under 100 ms, found by a doubling-then-bisection search of bounded steps.
// 2. The classic estimate: 1,000 clients each sending 10 msg/s of 1 KiB in relay mode `echo` (round-trip latency)
//    and `none` (server CPU), i.e. 10,000 msg/s and 10 MB/s in.
// Every server runs alone in a fresh process and the load generator in another (bench/load.child.ts), so the
// generator does not share the server's event loop. The machine is shared: each search runs LOAD_ROUNDS times in
// alternating order and the best round counts (other work only ever lowers a ceiling), and every step reports the
// CPU that other processes took meanwhile. Knobs (env, read once): see KNOBS below; `LOAD_CLIENTS=200
// LOAD_STEP_MS=800 LOAD_ROUNDS=1` gives a quick smoke run.

import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ClientsRequest, LoadRelay, LoadServerVariant, ServerRequest, ServerStatus, StepRequest, StepResult } from './load.child';
import type { BenchRow } from './row';
import { childScript } from './childScript';

export type LoadRow = BenchRow;

function knob(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new TypeError(`${name} must be a number >= ${min}; got "${raw}"`);
  return n;
}

/** Every knob, read once at startup. */
const KNOBS = {
  clients: knob('LOAD_CLIENTS', 1000, 2),
  /** Fan-out: the clients that send (the first few; they receive too). */
  senders: knob('LOAD_SENDERS', 4, 1),
  messageSize: knob('LOAD_MESSAGE_SIZE', 1024, 16),
  warmupMs: knob('LOAD_WARMUP_MS', 1000, 0),
  /** The measured window of each step. */
  stepMs: knob('LOAD_STEP_MS', 2000, 100),
  tailMs: knob('LOAD_TAIL_MS', 300, 0),
  drainMs: knob('LOAD_DRAIN_MS', 2000, 100),
  quietMs: knob('LOAD_QUIET_MS', 300, 10),
  settleMaxMs: knob('LOAD_SETTLE_MAX_MS', 10_000, 100),
  /** Fan-out: a step passes when its p99 latency is under this. */
  fanoutP99Ms: knob('LOAD_P99_MS', 100, 1),
  startRate: knob('LOAD_START_RATE', 25, 1),
  maxRate: knob('LOAD_MAX_RATE', 3200, 1),
  maxSteps: knob('LOAD_MAX_STEPS', 9, 1),
  /** The search stops when the gap between the highest pass and the lowest failure is this fraction of the failure. */
  precision: knob('LOAD_PRECISION', 0.1, 0.01),
  rounds: knob('LOAD_ROUNDS', 2, 1),
  /** Classic estimate: messages per second per client, the measured window, and the p99 goal. */
  perClientRate: knob('LOAD_PER_CLIENT_RATE', 10, 0.1),
  classicMs: knob('LOAD_CLASSIC_MS', 5000, 100),
  classicP99Ms: knob('LOAD_CLASSIC_P99_MS', 50, 1),
  /** Which parts run: `LOAD_PARTS=1,2`. */
  parts: new Set((process.env.LOAD_PARTS ?? '1,2').split(',').map((s) => s.trim())),
};

// ---------------------------------------------------------------------------------------------------------------
// Child processes

function ask<T>(child: ChildProcess, req: ServerRequest | ClientsRequest, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.removeListener('message', onMessage);
      child.removeListener('exit', onExit);
    };
    const onMessage = (m: T | { error: string }) => {
      done();
      if (m !== null && typeof m === 'object' && 'error' in m) reject(new Error(m.error));
      else resolve(m as T);
    };
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`child exited (${code}) during ${req.cmd}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no answer to ${req.cmd} within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(req);
  });
}

async function spawn<T>(script: string, args: string[]): Promise<{ child: ChildProcess; first: T }> {
  const child = fork(script, args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // Structured clone keeps Infinity (a lost delivery's latency) intact.
    serialization: 'advanced',
    env: { ...process.env, NODE_PATH: path.resolve('node_modules') },
  });
  const first = await Promise.race([
    once(child, 'message').then(([m]) => m as T),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${args[0]} child did not start`)), 20_000)),
  ]);
  return { child, first };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  if (child.connected) child.send({ cmd: 'exit' });
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill();
}

interface ServerProcess {
  child: ChildProcess;
  port: number;
}

async function startServer(script: string, variant: LoadServerVariant, relay: LoadRelay): Promise<ServerProcess> {
  const { child, first } = await spawn<{ port: number }>(script, ['server', variant, relay]);
  return { child, port: first.port };
}

const status = (s: ServerProcess) => ask<ServerStatus>(s.child, { cmd: 'status' }, 10_000);

/** Opens the clients over the servers and waits until every server has registered its share. */
async function openClients(generator: ChildProcess, servers: ServerProcess[], count: number): Promise<void> {
  await ask(generator, { cmd: 'open', ports: servers.map((s) => s.port), count }, 120_000);
  for (let i = 0; i < 500; i++) {
    const n = (await Promise.all(servers.map(status))).reduce((a, s) => a + s.clients, 0);
    if (n === count) return;
    await sleep(20);
  }
  throw new Error(`the servers never reached ${count} clients`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------------
// The machine's own load, so every figure says how much of the CPU the rest of the machine took meanwhile

/** Busy and total CPU time of the whole machine in ms, from /proc/stat; undefined where there is none. */
function machineCpu(): { busyMs: number } | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const tick = 10; // USER_HZ is 100 on Linux
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busyMs: (total - idle) * tick };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Steps and the search

interface StepSummary extends StepResult {
  rate: number;
  pass: boolean;
  /** Why the step failed: its p99, lost deliveries, or a generator that could not keep its schedule. */
  reason: string;
  /** CPU use during the step, in cores: the server(s), and every other process on the machine. */
  serverCpu: number;
  othersCpu: number;
  /** Messages the server(s) received during the step. */
  serverMessagesIn: number;
  droppedOut: number;
}

let stepId = 0;

async function step(
  generator: ChildProcess,
  servers: ServerProcess[],
  rate: number,
  shape: Pick<StepRequest, 'senders' | 'deliveriesPerMessage' | 'warmupMs' | 'measureMs'>,
  limitMs: number,
): Promise<StepSummary> {
  const req: StepRequest = {
    stepId: ++stepId,
    rate,
    messageSize: KNOBS.messageSize,
    tailMs: KNOBS.tailMs,
    drainMs: KNOBS.drainMs,
    quietMs: KNOBS.quietMs,
    settleMaxMs: KNOBS.settleMaxMs,
    ...shape,
  };
  const before = await Promise.all(servers.map(status));
  const m0 = machineCpu();
  const t0 = performance.now();
  const r = await ask<StepResult>(
    generator,
    { cmd: 'step', ...req },
    req.warmupMs + req.measureMs + req.tailMs + req.drainMs + req.settleMaxMs + 30_000,
  );
  const wall = performance.now() - t0;
  const m1 = machineCpu();
  const after = await Promise.all(servers.map(status));
  const sum = (xs: ServerStatus[], k: 'cpuMs' | 'messagesIn' | 'droppedOut') => xs.reduce((a, s) => a + s[k], 0);
  const serverCpu = (sum(after, 'cpuMs') - sum(before, 'cpuMs')) / wall;
  const othersCpu = m0 && m1 ? Math.max(0, (m1.busyMs - m0.busyMs) / wall - serverCpu - r.generatorCpu) : NaN;
  let reason = '';
  if (r.deliveriesPerSecond === 0 && req.deliveriesPerMessage > 0) reason = 'nothing delivered';
  else if (r.received < r.expected && r.p99 === Infinity) reason = `lost ${(100 * (1 - r.received / r.expected)).toFixed(1)}%`;
  else if (r.p99 >= limitMs) reason = `p99 ${fmtMs(r.p99)} ms`;
  else if (r.sendLagP99 >= limitMs) reason = `generator behind its schedule (lag p99 ${fmtMs(r.sendLagP99)} ms)`;
  return {
    ...r,
    rate,
    pass: reason === '',
    reason,
    serverCpu,
    othersCpu,
    serverMessagesIn: sum(after, 'messagesIn') - sum(before, 'messagesIn'),
    droppedOut: sum(after, 'droppedOut') - sum(before, 'droppedOut'),
  };
}

const fmtMs = (ms: number) => (ms === Infinity ? '∞' : ms < 10 ? ms.toFixed(1) : Math.round(ms).toString());
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

function logStep(label: string, s: StepSummary): void {
  const delivered = s.expected > 0 ? `${((100 * s.received) / s.expected).toFixed(1)}% of ${fmtInt(s.expected)} delivered, ${fmtInt(s.deliveriesPerSecond)}/s` : `server got ${fmtInt(s.serverMessagesIn)}`;
  const dropped = s.droppedOut > 0 ? `, ${fmtInt(s.droppedOut)} dropped for slow consumers` : '';
  const latency = s.expected > 0 ? `p50 ${fmtMs(s.p50)} p99 ${fmtMs(s.p99)} ms, ` : '';
  console.error(
    `load: ${label} ${fmtInt(s.rate)} msg/s: ${latency}${delivered}${dropped}; ` +
      `cpu server ${s.serverCpu.toFixed(2)} generator ${s.generatorCpu.toFixed(2)} others ${s.othersCpu.toFixed(2)}` +
      `${s.settled ? '' : ', backlog not cleared'} -> ${s.pass ? 'pass' : `FAIL (${s.reason})`}`,
  );
}

interface SearchResult {
  /** The highest passing rate, 0 when none passed. */
  ceiling: number;
  /** The step at the ceiling. */
  best?: StepSummary;
  steps: StepSummary[];
}

/** Doubles the rate until a step fails, then bisects between the highest pass and the lowest failure. */
async function search(run: (rate: number) => Promise<StepSummary>): Promise<SearchResult> {
  const steps: StepSummary[] = [];
  let best: StepSummary | undefined;
  let failRate = Infinity;
  let rate = KNOBS.startRate;
  for (let i = 0; i < KNOBS.maxSteps; i++) {
    const s = await run(rate);
    steps.push(s);
    if (s.pass) best = s;
    else failRate = Math.min(failRate, rate);
    const passRate = best?.rate ?? 0;
    let next: number;
    if (failRate === Infinity) {
      if (rate >= KNOBS.maxRate) break;
      next = Math.min(rate * 2, KNOBS.maxRate);
    } else {
      if (failRate - passRate <= KNOBS.precision * failRate) break;
      next = Math.round((passRate + failRate) / 2);
    }
    if (next <= passRate || next >= failRate || next < 1) break;
    rate = next;
  }
  return { ceiling: best?.rate ?? 0, best, steps };
}

// ---------------------------------------------------------------------------------------------------------------
// Part 1: fan-out ceiling

const FANOUT_VARIANTS: LoadServerVariant[] = ['ours, capture on', 'plain ws'];

async function fanoutSearch(script: string, generator: ChildProcess, variant: LoadServerVariant, round: number): Promise<SearchResult> {
  const server = await startServer(script, variant, 'broadcast');
  try {
    await openClients(generator, [server], KNOBS.clients);
    return await search(async (rate) => {
      const s = await step(
        generator,
        [server],
        rate,
        { senders: Math.min(KNOBS.senders, KNOBS.clients), deliveriesPerMessage: KNOBS.clients, warmupMs: KNOBS.warmupMs, measureMs: KNOBS.stepMs },
        KNOBS.fanoutP99Ms,
      );
      logStep(`fan-out ${variant} (round ${round + 1})`, s);
      return s;
    });
  } finally {
    await ask(generator, { cmd: 'close' }, 30_000).catch(() => undefined);
    await stopChild(server.child);
  }
}

async function partFanout(script: string, generator: ChildProcess, rows: LoadRow[]): Promise<Map<LoadServerVariant, SearchResult>> {
  const results = new Map<LoadServerVariant, SearchResult[]>(FANOUT_VARIANTS.map((v) => [v, []]));
  for (let round = 0; round < KNOBS.rounds; round++) {
    const order = round % 2 === 0 ? FANOUT_VARIANTS : [...FANOUT_VARIANTS].reverse();
    for (const v of order) results.get(v)!.push(await fanoutSearch(script, generator, v, round));
  }
  // The best round of each: other work on the machine only ever lowers a ceiling.
  const best = new Map<LoadServerVariant, SearchResult>();
  for (const [v, rs] of results) best.set(v, rs.reduce((a, b) => (b.ceiling > a.ceiling ? b : a)));
  const ours = best.get('ours, capture on')!;
  const plain = best.get('plain ws')!;
  const n = fmtInt(KNOBS.clients);
  const head = `load 1 fan-out, ${n} clients, ${KNOBS.messageSize} B`;
  const ratio = (a: number, b: number) => (b > 0 ? a / b : undefined);
  const rounds = (v: LoadServerVariant) => results.get(v)!.map((r) => fmtInt(r.ceiling)).join(', ');
  const unit = `msg/s in at p99 < ${KNOBS.fanoutP99Ms} ms (rounds: `;
  rows.push({ name: `${head}: plain ws ceiling`, value: plain.ceiling, unit: `${unit}${rounds('plain ws')})` });
  rows.push({
    name: `${head}: ours, capture on ceiling`,
    value: ours.ceiling,
    unit: `${unit}${rounds('ours, capture on')})`,
    ratio: ratio(ours.ceiling, plain.ceiling),
    baseline: 'vs plain ws',
  });
  const dps = (r: SearchResult) => r.best?.deliveriesPerSecond ?? 0;
  rows.push({ name: `${head}: plain ws at its ceiling`, value: dps(plain), unit: 'deliveries/s' });
  rows.push({ name: `${head}: ours at its ceiling`, value: dps(ours), unit: 'deliveries/s', ratio: ratio(dps(ours), dps(plain)), baseline: 'vs plain ws' });
  const p = (r: SearchResult) => r.best ?? ({ p50: NaN, p99: NaN, serverCpu: NaN } as StepSummary);
  rows.push({ name: `${head}: plain ws at its ceiling`, value: p(plain).p99, unit: `ms p99 (p50 ${fmtMs(p(plain).p50)} ms)` });
  rows.push({ name: `${head}: ours at its ceiling`, value: p(ours).p99, unit: `ms p99 (p50 ${fmtMs(p(ours).p50)} ms)` });
  return best;
}

// ---------------------------------------------------------------------------------------------------------------
// Part 2: the classic estimate

async function classicRun(
  script: string,
  generator: ChildProcess,
  variant: LoadServerVariant,
  relay: LoadRelay,
): Promise<StepSummary> {
  const server = await startServer(script, variant, relay);
  try {
    await openClients(generator, [server], KNOBS.clients);
    const s = await step(
      generator,
      [server],
      KNOBS.clients * KNOBS.perClientRate,
      { senders: KNOBS.clients, deliveriesPerMessage: relay === 'echo' ? 1 : 0, warmupMs: KNOBS.warmupMs, measureMs: KNOBS.classicMs },
      KNOBS.classicP99Ms,
    );
    logStep(`classic ${relay} ${variant}`, s);
    return s;
  } finally {
    await ask(generator, { cmd: 'close' }, 30_000).catch(() => undefined);
    await stopChild(server.child);
  }
}

async function partClassic(script: string, generator: ChildProcess, rows: LoadRow[], fanout?: Map<LoadServerVariant, SearchResult>): Promise<void> {
  const runs = new Map<string, StepSummary[]>();
  const key = (v: LoadServerVariant, relay: LoadRelay) => `${v}/${relay}`;
  for (let round = 0; round < KNOBS.rounds; round++) {
    const order = round % 2 === 0 ? FANOUT_VARIANTS : [...FANOUT_VARIANTS].reverse();
    for (const relay of ['echo', 'none'] as const) {
      for (const v of order) {
        const list = runs.get(key(v, relay)) ?? [];
        list.push(await classicRun(script, generator, v, relay));
        runs.set(key(v, relay), list);
      }
    }
  }
  // The best round: the lowest p99 for echo, the least server CPU for none.
  const bestEcho = (v: LoadServerVariant) => runs.get(key(v, 'echo'))!.reduce((a, b) => (b.p99 < a.p99 ? b : a));
  const bestNone = (v: LoadServerVariant) => runs.get(key(v, 'none'))!.reduce((a, b) => (b.serverCpu < a.serverCpu ? b : a));
  const rate = KNOBS.clients * KNOBS.perClientRate;
  const mbIn = (rate * KNOBS.messageSize) / 1e6;
  const head = `load 2 classic, ${fmtInt(KNOBS.clients)} x ${KNOBS.perClientRate}/s = ${fmtInt(rate)} msg/s, ${mbIn.toFixed(1)} MB/s in`;
  const ours = bestEcho('ours, capture on');
  const plain = bestEcho('plain ws');
  const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) && Number.isFinite(b) ? a / b : undefined);
  rows.push({ name: `${head}, echo: plain ws`, value: plain.p99, unit: `ms p99 round trip (p50 ${fmtMs(plain.p50)} ms)` });
  rows.push({
    name: `${head}, echo: ours, capture on`,
    value: ours.p99,
    unit: `ms p99 round trip (p50 ${fmtMs(ours.p50)} ms)`,
    ratio: ratio(ours.p99, plain.p99),
    baseline: 'vs plain ws',
    goal: `p99 < ${KNOBS.classicP99Ms} ms`,
    met: ours.p99 < KNOBS.classicP99Ms,
  });
  rows.push({ name: `${head}, echo: plain ws server CPU`, value: plain.serverCpu, unit: 'cores' });
  rows.push({
    name: `${head}, echo: ours server CPU`,
    value: ours.serverCpu,
    unit: 'cores',
    ratio: ratio(ours.serverCpu, plain.serverCpu),
    baseline: 'vs plain ws',
  });
  const noneOurs = bestNone('ours, capture on');
  const nonePlain = bestNone('plain ws');
  const got = (s: StepSummary) => `cores (received ${fmtInt(s.serverMessagesIn)} of ${fmtInt(s.sentTotal)})`;
  rows.push({ name: `${head}, none: plain ws server CPU`, value: nonePlain.serverCpu, unit: got(nonePlain) });
  rows.push({
    name: `${head}, none: ours server CPU`,
    value: noneOurs.serverCpu,
    unit: got(noneOurs),
    ratio: ratio(noneOurs.serverCpu, nonePlain.serverCpu),
    baseline: 'vs plain ws',
  });
  // The estimate forgets the fan-out: in broadcast mode each of those messages goes to every client.
  const needed = rate * KNOBS.clients;
  const ceiling = fanout?.get('ours, capture on')?.best?.deliveriesPerSecond;
  rows.push({
    name: `${head}, in broadcast mode instead`,
    value: needed,
    unit: 'deliveries/s needed',
    ...(ceiling ? { ratio: needed / ceiling, baseline: `the measured fan-out ceiling (ours, ${fmtInt(ceiling)} deliveries/s)` } : {}),
  });
}

// ---------------------------------------------------------------------------------------------------------------

export async function benchLoad(): Promise<LoadRow[]> {
  const script = await childScript('load');
  const rows: LoadRow[] = [];
  const m0 = machineCpu();
  const t0 = performance.now();
  const load0 = os.loadavg()[0];
  const { child: generator } = await spawn(script, ['clients']);
  try {
    let fanout: Map<LoadServerVariant, SearchResult> | undefined;
    if (KNOBS.parts.has('1')) fanout = await partFanout(script, generator, rows);
    if (KNOBS.parts.has('2')) await partClassic(script, generator, rows, fanout);
  } finally {
    await stopChild(generator);
  }
  const m1 = machineCpu();
  const minutes = (performance.now() - t0) / 60_000;
  if (m0 && m1) {
    rows.push({
      name: `machine: whole-machine CPU busy during the run (${os.cpus().length} cores, ${minutes.toFixed(1)} min; this bench included)`,
      value: (m1.busyMs - m0.busyMs) / (performance.now() - t0),
      unit: `cores (load average ${load0.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after)`,
    });
  }
  return rows;
}

// Runs alone (`node out/bench/load.bench.js`); the argv check keeps it quiet when bundled into bench/run.ts.
if (require.main === module && /load\.bench/.test(process.argv[1] ?? '')) {
  benchLoad().then(
    (rows) => console.table(rows.map((r) => ({ ...r, value: r.value.toFixed(1), ratio: r.ratio?.toFixed(2) }))),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
