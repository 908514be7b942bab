// Load benchmark (issue 6): how much one broadcast server carries, against the plain-ws server measured in the same run.
// 1. Fan-out: 1,000 clients, 1 KiB messages broadcast to all; the highest inbound rate (from a few senders) whose p99
//    send-to-receive latency stays under 100 ms, found by a doubling-then-bisection search of bounded steps.
// 2. The classic estimate: 1,000 clients each sending 10 msg/s of 1 KiB in relay mode `echo` (round-trip latency)
//    and `none` (server CPU), i.e. 10,000 msg/s and 10 MB/s in.
// 3. Two servers joined by the Redis backplane (a real redis-server on a free loopback port, started and stopped
//    here), 500 clients each, against one server with 1,000: the same fan-out search, side by side.
// Each server runs in its own process and the load generator in another (bench/load.child.ts), so the generator
// does not share the server's event loop. The machine is shared, so: both servers stay up with their own clients
// and the steps of their searches alternate, so that other work weighs on both alike; each search runs LOAD_ROUNDS
// times and the best round counts (other work only ever lowers a ceiling); every step reports the CPU that other
// processes took meanwhile. Knobs (env, read once): see KNOBS below; `LOAD_CLIENTS=200 LOAD_STEP_MS=800
// LOAD_ROUNDS=1` gives a quick smoke run.

import { fork, spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ClientsRequest, LoadRelay, LoadServerVariant, ServerRequest, ServerStatus, StepRequest, StepResult } from './load.child';
import type { BenchRow } from './row';
import { childScript } from './childScript';
import { sleep, waitFor } from '../test/support/waitFor';

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
  parts: new Set((process.env.LOAD_PARTS ?? '1,2,3').split(',').map((s) => s.trim())),
  redisServer: process.env.LOAD_REDIS_SERVER || '/usr/bin/redis-server',
  /** For investigation: node flags for the server processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
  serverNodeArgs: (process.env.LOAD_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
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

async function spawn<T>(script: string, args: string[], execArgv: string[] = []): Promise<{ child: ChildProcess; first: T }> {
  const child = fork(script, args, {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // Structured clone keeps Infinity (a lost delivery's latency) intact.
    serialization: 'advanced',
    env: { ...process.env, NODE_PATH: path.resolve('node_modules') },
  });
  const first = await Promise.race([
    once(child, 'message').then(([m]) => m as T | { error: string }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${args[0]} child did not start`)), 20_000)),
  ]).catch(async (err: Error) => {
    await stopChild(child);
    throw err;
  });
  if (first !== null && typeof first === 'object' && 'error' in first) {
    await stopChild(child);
    throw new Error(`${args.join(' ')}: ${first.error}`);
  }
  return { child, first };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  if (child.connected) child.send({ cmd: 'exit' });
  await Promise.race([exited, sleep(3000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill();
}

interface ServerProcess {
  child: ChildProcess;
  port: number;
}

async function startServer(script: string, variant: LoadServerVariant, relay: LoadRelay, backplane: string[] = []): Promise<ServerProcess> {
  const { child, first } = await spawn<{ port: number }>(script, ['server', variant, relay, ...backplane], KNOBS.serverNodeArgs);
  return { child, port: first.port };
}

const status = (s: ServerProcess) => ask<ServerStatus>(s.child, { cmd: 'status' }, 10_000);

/** What a step runs against: one or more server processes and a group of clients spread over them. */
interface Setup {
  name: string;
  servers: ServerProcess[];
  /** Other processes whose CPU counts as the setup's (redis-server). */
  helperPids?: number[];
}

/** Opens the setup's clients (its group in the generator) and waits until every server has registered its share. */
async function openClients(generator: ChildProcess, setup: Setup, count: number): Promise<void> {
  await ask(generator, { cmd: 'open', group: setup.name, ports: setup.servers.map((s) => s.port), count }, 120_000);
  const registered = async () => (await Promise.all(setup.servers.map(status))).reduce((a, s) => a + s.clients, 0) === count;
  await waitFor(`${setup.name}: the servers to reach ${count} clients`, registered, 10_000);
}

async function closeSetup(generator: ChildProcess, setup: Setup): Promise<void> {
  await ask(generator, { cmd: 'close', group: setup.name }, 30_000).catch(() => undefined);
  await Promise.all(setup.servers.map((s) => stopChild(s.child)));
}

async function setRelay(setup: Setup, relay: LoadRelay): Promise<void> {
  await Promise.all(setup.servers.map((s) => ask(s.child, { cmd: 'relay', relay }, 10_000)));
}


// ---------------------------------------------------------------------------------------------------------------
// The machine's own load, so every figure says how much of the CPU the rest of the machine took meanwhile

interface MachineCpu {
  /** CPU time of every process on the machine (user + nice + system), ms. */
  tasksMs: number;
  /** Interrupt and softirq time (on loopback, mostly the TCP traffic of this bench), ms. */
  irqMs: number;
  /** Time the hypervisor gave to other guests while this machine wanted the CPU, ms. */
  stealMs: number;
}

/** The whole machine's CPU time, from /proc/stat; undefined where there is none. */
function machineCpu(): MachineCpu | undefined {
  try {
    const f = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const tick = 10; // USER_HZ is 100 on Linux
    return { tasksMs: (f[0] + f[1] + f[2]) * tick, irqMs: (f[5] + f[6]) * tick, stealMs: (f[7] ?? 0) * tick };
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process used so far, in ms, from /proc/<pid>/stat; NaN where there is none. */
function processCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime and stime, fields 14 and 15, in 10 ms ticks
  } catch {
    return NaN;
  }
}

/** Cores used per kind over an interval of `wallMs`. */
function machineCores(a: MachineCpu | undefined, b: MachineCpu | undefined, wallMs: number): { tasks: number; irq: number; steal: number } {
  if (!a || !b) return { tasks: NaN, irq: NaN, steal: NaN };
  return { tasks: (b.tasksMs - a.tasksMs) / wallMs, irq: (b.irqMs - a.irqMs) / wallMs, steal: (b.stealMs - a.stealMs) / wallMs };
}

/** What the rest of the machine uses while this bench sits idle (its children are stopped or waiting). */
async function idleMachine(ms: number): Promise<{ tasks: number; irq: number; steal: number }> {
  const a = machineCpu();
  const t0 = performance.now();
  await sleep(ms);
  return machineCores(a, machineCpu(), performance.now() - t0);
}

// ---------------------------------------------------------------------------------------------------------------
// Steps and the search

interface StepSummary extends StepResult {
  rate: number;
  pass: boolean;
  /** Why the step failed: its p99, lost deliveries, or a generator that could not keep its schedule. */
  reason: string;
  /** CPU use during the step, in cores: the server(s); every other process on the machine; the hypervisor's steal. */
  serverCpu: number;
  othersCpu: number;
  stealCpu: number;
  /** CPU of the setup's helper processes (redis-server), in cores. */
  helperCpu: number;
  /** Messages the server(s) received during the step. */
  serverMessagesIn: number;
  droppedOut: number;
  /** Backplane publishes Redis did not take during the step. */
  publishFailed: number;
  /** The servers' longest garbage-collection pause during the step (ms). */
  serverGcMaxPauseMs: number;
  /** The servers' event-loop delay during the step (ms): the highest p99 and max. */
  serverLoopDelayP99Ms: number;
  serverLoopDelayMaxMs: number;
}

let stepId = 0;

async function step(
  generator: ChildProcess,
  setup: Setup,
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
  const servers = setup.servers;
  const before = await Promise.all(servers.map(status));
  const helpers = setup.helperPids ?? [];
  const h0 = helpers.reduce((a, pid) => a + processCpuMs(pid), 0);
  const m0 = machineCpu();
  const t0 = performance.now();
  const r = await ask<StepResult>(
    generator,
    { cmd: 'step', group: setup.name, ...req },
    req.warmupMs + req.measureMs + req.tailMs + req.drainMs + req.settleMaxMs + 30_000,
  );
  const wall = performance.now() - t0;
  const m1 = machineCpu();
  const helperCpu = (helpers.reduce((a, pid) => a + processCpuMs(pid), 0) - h0) / wall;
  const after = await Promise.all(servers.map(status));
  const sum = (xs: ServerStatus[], k: 'cpuMs' | 'messagesIn' | 'droppedOut' | 'publishFailed') => xs.reduce((a, s) => a + s[k], 0);
  const serverCpu = (sum(after, 'cpuMs') - sum(before, 'cpuMs')) / wall;
  const machine = machineCores(m0, m1, wall);
  const othersCpu = Math.max(0, machine.tasks - serverCpu - r.generatorCpu - (helpers.length ? helperCpu : 0));
  let reason = '';
  if (r.deliveriesPerSecond === 0 && req.deliveriesPerMessage > 0) reason = 'nothing delivered';
  else if (r.received > r.expected) reason = `${fmtInt(r.received - r.expected)} deliveries too many (duplicates)`;
  else if (r.received < r.expected) {
    const missing = `${fmtInt(r.expected - r.received)} deliveries (${(100 * (1 - r.received / r.expected)).toFixed(2)}%)`;
    reason = `${missing} lost or later than ${fmtInt(req.drainMs)} ms after sending stopped`;
  }
  else if (r.p99 >= limitMs) reason = `p99 ${fmtMs(r.p99)} ms`;
  else if (r.sendLagP99 >= limitMs) reason = `generator behind its schedule (lag p99 ${fmtMs(r.sendLagP99)} ms)`;
  return {
    ...r,
    rate,
    pass: reason === '',
    reason,
    serverCpu,
    othersCpu,
    stealCpu: machine.steal,
    helperCpu,
    serverMessagesIn: sum(after, 'messagesIn') - sum(before, 'messagesIn'),
    droppedOut: sum(after, 'droppedOut') - sum(before, 'droppedOut'),
    publishFailed: sum(after, 'publishFailed') - sum(before, 'publishFailed'),
    serverGcMaxPauseMs: Math.max(...after.map((x) => x.gcMaxPauseMs)),
    serverLoopDelayP99Ms: Math.max(...after.map((x) => x.loopDelayP99Ms)),
    serverLoopDelayMaxMs: Math.max(...after.map((x) => x.loopDelayMaxMs)),
  };
}

const fmtMs = (ms: number) => (ms === Infinity ? '∞' : ms < 10 ? ms.toFixed(1) : Math.round(ms).toString());
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

function logStep(label: string, s: StepSummary): void {
  const delivered = s.expected > 0 ? `${((100 * s.received) / s.expected).toFixed(1)}% of ${fmtInt(s.expected)} delivered, ${fmtInt(s.deliveriesPerSecond)}/s` : `server got ${fmtInt(s.serverMessagesIn)}`;
  const dropped =
    (s.droppedOut > 0 ? `, ${fmtInt(s.droppedOut)} dropped for slow consumers` : '') +
    (s.publishFailed > 0 ? `, ${fmtInt(s.publishFailed)} publishes failed` : '');
  const helper = Number.isFinite(s.helperCpu) && s.helperCpu > 0 ? ` redis ${s.helperCpu.toFixed(2)}` : '';
  const latency = s.expected > 0 ? `p50 ${fmtMs(s.p50)} p99 ${fmtMs(s.p99)} ms, ` : '';
  console.error(
    `load: ${label} ${fmtInt(s.rate)} msg/s: ${latency}${delivered}${dropped}; ` +
      `cores: server ${s.serverCpu.toFixed(2)}${helper} generator ${s.generatorCpu.toFixed(2)} other processes ${s.othersCpu.toFixed(2)} steal ${s.stealCpu.toFixed(2)}` +
      `; longest GC pause: server ${fmtMs(s.serverGcMaxPauseMs)} generator ${fmtMs(s.generatorGcMaxPauseMs)} ms` +
      `; server loop delay p99 ${fmtMs(s.serverLoopDelayP99Ms)} max ${fmtMs(s.serverLoopDelayMaxMs)} ms` +
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
class RateSearch {
  readonly steps: StepSummary[] = [];
  private best: StepSummary | undefined;
  private failRate = Infinity;
  /** The rate of the next step; undefined once the search is done. */
  rate: number | undefined = KNOBS.startRate;

  report(s: StepSummary): void {
    this.steps.push(s);
    if (s.pass) this.best = s;
    else this.failRate = Math.min(this.failRate, s.rate);
    const passRate = this.best?.rate ?? 0;
    let next: number | undefined;
    if (this.failRate === Infinity) {
      next = s.rate >= KNOBS.maxRate ? undefined : Math.min(s.rate * 2, KNOBS.maxRate);
    } else if (this.failRate - passRate > KNOBS.precision * this.failRate) {
      next = Math.round((passRate + this.failRate) / 2);
    }
    if (next !== undefined && (next <= passRate || next >= this.failRate || next < 1)) next = undefined;
    this.rate = this.steps.length >= KNOBS.maxSteps ? undefined : next;
  }

  result(): SearchResult {
    return { ceiling: this.best?.rate ?? 0, best: this.best, steps: this.steps };
  }
}

/** The fan-out search (every client gets each message) over `setups`, KNOBS.rounds times; its steps go to `steps`. */
async function fanoutRounds(generator: ChildProcess, setups: Setup[], label: string, steps: StepSummary[]): Promise<SearchResult[][]> {
  const rounds: SearchResult[][] = [];
  for (let round = 0; round < KNOBS.rounds; round++) {
    const r = await interleavedSearch(generator, setups, round, label, () => ({
      senders: Math.min(KNOBS.senders, KNOBS.clients),
      deliveriesPerMessage: KNOBS.clients,
      warmupMs: KNOBS.warmupMs,
      measureMs: KNOBS.stepMs,
    }));
    rounds.push(r);
    for (const x of r) steps.push(...x.steps);
  }
  return rounds;
}

/**
 * Runs one search per setup, their steps interleaved (the order alternating at each step), so that whatever else
 * the machine does at a given moment weighs on every setup alike.
 */
async function interleavedSearch(
  generator: ChildProcess,
  setups: Setup[],
  round: number,
  label: string,
  shape: (setup: Setup) => Pick<StepRequest, 'senders' | 'deliveriesPerMessage' | 'warmupMs' | 'measureMs'>,
): Promise<SearchResult[]> {
  const searches = setups.map(() => new RateSearch());
  for (let turn = 0; searches.some((s) => s.rate !== undefined); turn++) {
    const order = setups.map((_, i) => i);
    if ((turn + round) % 2 === 1) order.reverse();
    for (const i of order) {
      const rate = searches[i].rate;
      if (rate === undefined) continue;
      const s = await step(generator, setups[i], rate, shape(setups[i]), KNOBS.fanoutP99Ms);
      logStep(`${label} ${setups[i].name} (round ${round + 1})`, s);
      searches[i].report(s);
    }
  }
  return searches.map((s) => s.result());
}

/** The best round of each setup: other work on the machine only ever lowers a ceiling. */
function bestRounds(rounds: SearchResult[][]): SearchResult[] {
  return rounds[0].map((_, i) => rounds.map((r) => r[i]).reduce((a, b) => (b.ceiling > a.ceiling ? b : a)));
}

const ratioOf = (a: number, b: number) => (b > 0 && Number.isFinite(a) && Number.isFinite(b) ? a / b : undefined);

// ---------------------------------------------------------------------------------------------------------------
// Part 1: fan-out ceiling

async function partFanout(
  generator: ChildProcess,
  ours: Setup,
  plain: Setup,
  rows: LoadRow[],
  steps: StepSummary[],
): Promise<{ ours: SearchResult; plain: SearchResult }> {
  await Promise.all([setRelay(ours, 'broadcast'), setRelay(plain, 'broadcast')]);
  const rounds = await fanoutRounds(generator, [ours, plain], 'fan-out', steps);
  const [o, p] = bestRounds(rounds);
  const head = `load 1 fan-out, ${fmtInt(KNOBS.clients)} clients, ${KNOBS.messageSize} B, ${Math.min(KNOBS.senders, KNOBS.clients)} senders`;
  const perRound = (i: number) => rounds.map((r) => fmtInt(r[i].ceiling)).join(', ');
  const unit = (i: number) => `msg/s in at p99 < ${KNOBS.fanoutP99Ms} ms (rounds: ${perRound(i)})`;
  rows.push({ name: `${head}: plain ws ceiling`, value: p.ceiling, unit: unit(1) });
  rows.push({ name: `${head}: ours, capture on ceiling`, value: o.ceiling, unit: unit(0), ratio: ratioOf(o.ceiling, p.ceiling), baseline: 'vs plain ws' });
  const dps = (r: SearchResult) => r.best?.deliveriesPerSecond ?? 0;
  rows.push({ name: `${head}: plain ws, deliveries at its ceiling`, value: dps(p), unit: 'deliveries/s' });
  rows.push({ name: `${head}: ours, deliveries at its ceiling`, value: dps(o), unit: 'deliveries/s', ratio: ratioOf(dps(o), dps(p)), baseline: 'vs plain ws' });
  const lat = (r: SearchResult) => `ms p99 (p50 ${fmtMs(r.best?.p50 ?? NaN)} ms; server ${(r.best?.serverCpu ?? NaN).toFixed(2)} cores)`;
  rows.push({ name: `${head}: plain ws, latency at its ceiling`, value: p.best?.p99 ?? NaN, unit: lat(p) });
  rows.push({ name: `${head}: ours, latency at its ceiling`, value: o.best?.p99 ?? NaN, unit: lat(o) });
  return { ours: o, plain: p };
}

// ---------------------------------------------------------------------------------------------------------------
// Part 2: the classic estimate

async function partClassic(
  generator: ChildProcess,
  ours: Setup,
  oursOff: Setup,
  plain: Setup,
  rows: LoadRow[],
  steps: StepSummary[],
  fanout: { ours: SearchResult } | undefined,
): Promise<void> {
  const rate = KNOBS.clients * KNOBS.perClientRate;
  const runs = new Map<string, StepSummary[]>();
  for (const relay of ['echo', 'none'] as const) {
    const all = [ours, oursOff, plain];
    await Promise.all(all.map((x) => setRelay(x, relay)));
    for (let round = 0; round < KNOBS.rounds; round++) {
      for (const setup of round % 2 === 0 ? all : [...all].reverse()) {
        const s = await step(
          generator,
          setup,
          rate,
          { senders: KNOBS.clients, deliveriesPerMessage: relay === 'echo' ? 1 : 0, warmupMs: KNOBS.warmupMs, measureMs: KNOBS.classicMs },
          KNOBS.classicP99Ms,
        );
        logStep(`classic ${relay} ${setup.name} (round ${round + 1})`, s);
        steps.push(s);
        runs.set(`${setup.name}/${relay}`, [...(runs.get(`${setup.name}/${relay}`) ?? []), s]);
      }
    }
  }
  // The best round: the lowest p99 for echo, the least server CPU for none.
  const echo = (x: Setup) => runs.get(`${x.name}/echo`)!.reduce((a, b) => (b.p99 < a.p99 ? b : a));
  const none = (x: Setup) => runs.get(`${x.name}/none`)!.reduce((a, b) => (b.serverCpu < a.serverCpu ? b : a));
  const mbIn = (rate * KNOBS.messageSize) / 1e6;
  const head = `load 2 classic, ${fmtInt(KNOBS.clients)} x ${KNOBS.perClientRate}/s = ${fmtInt(rate)} msg/s, ${mbIn.toFixed(1)} MB/s in`;
  const o = echo(ours);
  const p = echo(plain);
  const rt = (x: Setup, s: StepSummary) =>
    `ms p99 round trip (p50 ${fmtMs(s.p50)} ms; p99 of the rounds: ${runs.get(`${x.name}/echo`)!.map((r) => fmtMs(r.p99)).join(', ')})`;
  rows.push({ name: `${head}, echo: plain ws`, value: p.p99, unit: rt(plain, p) });
  rows.push({
    name: `${head}, echo: ours, capture on`,
    value: o.p99,
    unit: rt(ours, o),
    ratio: ratioOf(o.p99, p.p99),
    baseline: 'vs plain ws',
    goal: `p99 < ${KNOBS.classicP99Ms} ms`,
    met: o.p99 < KNOBS.classicP99Ms,
  });
  // Capture off isolates what capture costs from what our server's own path costs.
  const f = echo(oursOff);
  rows.push({ name: `${head}, echo: ours, capture off`, value: f.p99, unit: rt(oursOff, f), ratio: ratioOf(f.p99, p.p99), baseline: 'vs plain ws' });
  rows.push({ name: `${head}, echo: plain ws server CPU`, value: p.serverCpu, unit: 'cores' });
  rows.push({ name: `${head}, echo: ours server CPU`, value: o.serverCpu, unit: 'cores', ratio: ratioOf(o.serverCpu, p.serverCpu), baseline: 'vs plain ws' });
  rows.push({ name: `${head}, echo: ours, capture off, server CPU`, value: f.serverCpu, unit: 'cores', ratio: ratioOf(f.serverCpu, p.serverCpu), baseline: 'vs plain ws' });
  const no = none(ours);
  const nf = none(oursOff);
  const np = none(plain);
  const got = (s: StepSummary) => `cores (received ${fmtInt(s.serverMessagesIn)} of ${fmtInt(s.sentTotal)})`;
  rows.push({ name: `${head}, none: plain ws server CPU`, value: np.serverCpu, unit: got(np) });
  rows.push({ name: `${head}, none: ours server CPU`, value: no.serverCpu, unit: got(no), ratio: ratioOf(no.serverCpu, np.serverCpu), baseline: 'vs plain ws' });
  rows.push({ name: `${head}, none: ours, capture off, server CPU`, value: nf.serverCpu, unit: got(nf), ratio: ratioOf(nf.serverCpu, np.serverCpu), baseline: 'vs plain ws' });
  // The estimate forgets the fan-out: in broadcast mode each of those messages goes to every client.
  const needed = rate * KNOBS.clients;
  const ceiling = fanout?.ours.best?.deliveriesPerSecond;
  rows.push({
    name: `${head}, in broadcast mode instead`,
    value: needed,
    unit: 'deliveries/s needed',
    ...(ceiling ? { ratio: needed / ceiling, baseline: `the measured fan-out ceiling (ours, ${fmtInt(ceiling)} deliveries/s)` } : {}),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Part 3: two servers with the Redis backplane

interface RedisProcess {
  child: ChildProcess;
  pid: number;
  url: string;
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  return port;
}

/** True once Redis answers PING on the port (within 500 ms). */
function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 500);
    s.on('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d: Buffer) => done(d.toString('latin1').startsWith('+PONG')));
  });
}

/** A throwaway redis-server on a free loopback port: no persistence, stopped by its pid at the end. */
async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  const child = spawnProcess(
    KNOBS.redisServer,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
    { stdio: 'ignore' },
  );
  child.on('error', () => {}); // a missing binary shows as no answer below
  const answers = async () => {
    if (child.exitCode !== null) throw new Error(`${KNOBS.redisServer} exited with ${child.exitCode}`);
    return redisAnswers(port);
  };
  try {
    await waitFor(`${KNOBS.redisServer} to answer on 127.0.0.1:${port}`, answers, 5000);
  } catch (err) {
    await stopRedis({ child, pid: child.pid ?? 0, url: '' });
    throw err;
  }
  return { child, pid: child.pid!, url: `redis://127.0.0.1:${port}` };
}

async function stopRedis(r: RedisProcess): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null || !r.child.pid) return;
  const exited = once(r.child, 'exit');
  r.child.kill('SIGTERM');
  await Promise.race([exited, sleep(3000)]);
  if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
}

async function partBackplane(
  script: string,
  generator: ChildProcess,
  one: Setup,
  rows: LoadRow[],
  steps: StepSummary[],
  fanout: { plain: SearchResult } | undefined,
): Promise<void> {
  const head = `load 3 backplane, ${fmtInt(KNOBS.clients)} clients, ${KNOBS.messageSize} B`;
  if (!fs.existsSync(KNOBS.redisServer)) {
    rows.push({ name: `${head}: skipped`, value: NaN, unit: `no ${KNOBS.redisServer} (LOAD_REDIS_SERVER)` });
    return;
  }
  const redis = await startRedis();
  const two: Setup = { name: `two servers + Redis, ${fmtInt(KNOBS.clients / 2)} clients each`, servers: [], helperPids: [redis.pid] };
  try {
    for (let i = 0; i < 2; i++) two.servers.push(await startServer(script, 'ours, capture on', 'broadcast', [redis.url, 'load-bench']));
    await openClients(generator, two, KNOBS.clients);
    await setRelay(one, 'broadcast');
    const rounds = await fanoutRounds(generator, [one, two], 'backplane', steps);
    const [o, t] = bestRounds(rounds);
    const perRound = (i: number) => rounds.map((r) => fmtInt(r[i].ceiling)).join(', ');
    const unit = (i: number) => `msg/s in at p99 < ${KNOBS.fanoutP99Ms} ms (rounds: ${perRound(i)})`;
    const oneName = `${head}: one server (ours, capture on)`;
    const twoName = `${head}: ${two.name} (capture on)`;
    rows.push({ name: `${oneName} ceiling`, value: o.ceiling, unit: unit(0) });
    rows.push({ name: `${twoName} ceiling`, value: t.ceiling, unit: unit(1), ratio: ratioOf(t.ceiling, o.ceiling), baseline: 'vs one server' });
    const dps = (r: SearchResult) => r.best?.deliveriesPerSecond ?? 0;
    const plainDps = fanout?.plain.best?.deliveriesPerSecond;
    const vsPlain = (r: SearchResult) => (plainDps ? `; ${(dps(r) / plainDps).toFixed(2)}x plain ws's ${fmtInt(plainDps)}` : '');
    rows.push({ name: `${oneName}, deliveries at its ceiling`, value: dps(o), unit: `deliveries/s${vsPlain(o)}` });
    rows.push({ name: `${twoName}, deliveries at its ceiling`, value: dps(t), unit: `deliveries/s${vsPlain(t)}`, ratio: ratioOf(dps(t), dps(o)), baseline: 'vs one server' });
    const cpu = (s?: StepSummary) => (s ? `servers ${s.serverCpu.toFixed(2)}${s.helperCpu > 0 ? ` + redis ${s.helperCpu.toFixed(2)}` : ''} cores` : '');
    const lat = (r: SearchResult) => `ms p99 (p50 ${fmtMs(r.best?.p50 ?? NaN)} ms; ${cpu(r.best)})`;
    rows.push({ name: `${oneName}, latency at its ceiling`, value: o.best?.p99 ?? NaN, unit: lat(o) });
    rows.push({ name: `${twoName}, latency at its ceiling`, value: t.best?.p99 ?? NaN, unit: lat(t) });
    // Latency at the same load: the highest rate both passed in the same round.
    const common = rounds
      .map((r) => {
        const passed = (x: SearchResult) => new Map(x.steps.filter((s) => s.pass).map((s) => [s.rate, s]));
        const a = passed(r[0]);
        const b = passed(r[1]);
        const rate = Math.max(0, ...[...a.keys()].filter((k) => b.has(k)));
        return rate > 0 ? { rate, a: a.get(rate)!, b: b.get(rate)! } : undefined;
      })
      .filter((x) => x !== undefined)
      .reduce<{ rate: number; a: StepSummary; b: StepSummary } | undefined>((x, y) => (!x || y.rate > x.rate ? y : x), undefined);
    if (common) {
      const at = `at ${fmtInt(common.rate)} msg/s in (${fmtInt(common.rate * KNOBS.clients)} deliveries/s)`;
      rows.push({ name: `${oneName}, latency ${at}`, value: common.a.p99, unit: `ms p99 (p50 ${fmtMs(common.a.p50)} ms; ${cpu(common.a)})` });
      rows.push({
        name: `${twoName}, latency ${at}`,
        value: common.b.p99,
        unit: `ms p99 (p50 ${fmtMs(common.b.p50)} ms; ${cpu(common.b)})`,
        ratio: ratioOf(common.b.p99, common.a.p99),
        baseline: 'vs one server',
      });
    }
  } finally {
    await closeSetup(generator, two);
    await stopRedis(redis);
  }
}

// ---------------------------------------------------------------------------------------------------------------

export async function benchLoad(): Promise<LoadRow[]> {
  const script = await childScript('load');
  const rows: LoadRow[] = [];
  const before = await idleMachine(2000);
  const t0 = performance.now();
  const steps: StepSummary[] = [];
  const setups: Setup[] = [];
  const { child: generator } = await spawn(script, ['clients']);
  try {
    // Both servers stay up, each with its own clients, so the steps of the two can alternate (idle ones cost nothing:
    // the heartbeat is off).
    const ours: Setup = { name: 'ours, capture on', servers: [await startServer(script, 'ours, capture on', 'broadcast')] };
    setups.push(ours);
    const plain: Setup = { name: 'plain ws', servers: [await startServer(script, 'plain ws', 'broadcast')] };
    setups.push(plain);
    // Part 2 only: our server without capture, to tell capture's cost from our server's own.
    let oursOff: Setup | undefined;
    if (KNOBS.parts.has('2')) {
      oursOff = { name: 'ours, capture off', servers: [await startServer(script, 'ours, capture off', 'broadcast')] };
      setups.push(oursOff);
    }
    for (const s of setups) await openClients(generator, s, KNOBS.clients);
    let fanout: { ours: SearchResult; plain: SearchResult } | undefined;
    if (KNOBS.parts.has('1')) fanout = await partFanout(generator, ours, plain, rows, steps);
    if (oursOff) await partClassic(generator, ours, oursOff, plain, rows, steps, fanout);
    if (KNOBS.parts.has('3')) await partBackplane(script, generator, ours, rows, steps, fanout);
  } finally {
    for (const s of setups) await closeSetup(generator, s);
    await stopChild(generator);
  }
  const minutes = (performance.now() - t0) / 60_000;
  const after = await idleMachine(2000);
  const cores = (m: { tasks: number; steal: number }) => `${m.tasks.toFixed(2)} cores (+ steal ${m.steal.toFixed(2)})`;
  const others = steps.map((s) => s.othersCpu).filter(Number.isFinite);
  rows.push({
    name: `machine (${os.cpus().length} cores): other processes' CPU during the steps, median of ${others.length}`,
    value: median(others),
    unit: `cores (max ${Math.max(0, ...others).toFixed(2)}); with the bench idle: ${cores(before)} before, ${cores(after)} after; run took ${minutes.toFixed(1)} min`,
  });
  return rows;
}

const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

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
