// How each kind of step runs. A step passes by returning and fails by throwing a StepFailure (with expected and actual
// for a diff); the runner (runner.ts) reports both.

import { readFile } from 'node:fs/promises';
import type { ClientConnectionOptions } from '../client/clientConnection';
import { encodeBody, encodeBodyNow, resolvePath } from './body';
import { jsonOf, isJson, resolveMatcher, showReceived, type Received, type ResolvedMatcher } from './match';
import { valueAt, formatJsonPath } from './jsonPath';
import type { CaptureSpec, CloseStep, ConnectStep, ExpectCloseStep, ExpectStep, RepeatStep, SendStep, Step } from './model';
import { StepFailure } from './results';
import type { RunState } from './runState';
import { ScenarioConnection, type CloseInfo } from './scenarioConnection';
import { expectMessages } from './expectMessages';

export type StepRunner<S extends Step> = (st: RunState, step: S, path: number[], iteration: number[]) => Promise<void>;

/** The step's named connection; fails when the scenario has not connected it. */
export function connectionOf(st: RunState, name: string): ScenarioConnection {
  const c = st.connections.get(name);
  if (!c) throw new StepFailure(`connection "${name}" was not opened: a connect step must come first`);
  return c;
}

function within(st: RunState, ms: number | undefined): number {
  return ms ?? st.timeoutMs;
}

async function connectOptions(st: RunState, step: ConnectStep): Promise<{ url: string; options: ClientConnectionOptions }> {
  const ep = step.endpoint === undefined ? undefined : st.file.endpoints.get(step.endpoint);
  const url = st.vars.text(step.url ?? ep?.url ?? '');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...ep?.headers, ...step.headers })) headers[k] = st.vars.text(v);
  const subprotocols = (step.subprotocols ?? ep?.subprotocols ?? []).map((p) => st.vars.text(p));
  const options: ClientConnectionOptions = { headers, subprotocols, capture: st.labels?.sink, breakpoints: st.options.breakpoints };
  options.handshakeTimeout = ep?.handshakeTimeoutMs ?? within(st, step.withinMs);
  if (ep?.reconnect) options.reconnect = ep.reconnect;
  if (ep?.caFile !== undefined || ep?.rejectUnauthorized !== undefined || ep?.servername !== undefined) {
    options.tls = { rejectUnauthorized: ep.rejectUnauthorized, servername: ep.servername && st.vars.text(ep.servername) };
    if (ep.caFile !== undefined) {
      const path = resolvePath(st.body.baseDir, st.vars.text(ep.caFile));
      try {
        options.tls.ca = await readFile(path);
      } catch (err) {
        throw new StepFailure(`cannot read the CA file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
    }
  }
  return { url, options };
}

export const runConnect: StepRunner<ConnectStep> = async (st, step) => {
  const existing = st.connections.get(step.connection);
  if (existing && !existing.closed) throw new StepFailure(`connection "${step.connection}" is already open: close it first, or connect under another name`);
  const { url, options } = await connectOptions(st, step);
  let c: ScenarioConnection;
  try {
    c = new ScenarioConnection(step.connection, url, options);
  } catch (err) {
    throw new StepFailure(`cannot connect to ${url}: ${(err as Error).message}`);
  }
  st.connections.set(step.connection, c);
  st.made.push(c);
  st.labels?.label(c.client.id, { scenario: st.spec.name, step: st.current?.label ?? '', name: step.connection });
  const ms = within(st, step.withinMs);
  const deadline = performance.now() + ms;
  while (!c.openOutcome && performance.now() < deadline && !st.options.signal?.aborted) await c.changed(deadline - performance.now(), st.options.signal);
  if (c.client.connectionId) (st.connectionIds[step.connection] ??= []).push(c.client.connectionId);
  const outcome = c.openOutcome;
  const want = step.status ?? 101;
  if (!outcome) throw new StepFailure(`no upgrade response from ${url} within ${ms} ms`, `status: ${want}`, 'status: (no response)');
  if (outcome.ok) {
    if (want !== 101) throw new StepFailure(`the upgrade succeeded (101) where ${want} was expected`, `status: ${want}`, 'status: 101');
    if (step.subprotocol !== undefined && outcome.protocol !== st.vars.text(step.subprotocol)) {
      const w = st.vars.text(step.subprotocol);
      throw new StepFailure(`the server chose subprotocol ${outcome.protocol ? `"${outcome.protocol}"` : '(none)'} where ${w ? `"${w}"` : 'none'} was expected`, `subprotocol: ${w}`, `subprotocol: ${outcome.protocol}`);
    }
    return;
  }
  if (outcome.status !== undefined && outcome.status === want) return;
  throw new StepFailure(`cannot connect to ${url}: ${outcome.message}`, `status: ${want}`, `status: ${outcome.status ?? '(no response)'}\n${outcome.message}`);
};

export const runSend: StepRunner<SendStep> = async (st, step) => {
  const c = connectionOf(st, step.connection);
  const data = encodeBodyNow(step.body, st.body) ?? (await encodeBody(step.body, st.body));
  if (c.client.state !== 'open') throw new StepFailure(`connection "${step.connection}" is ${c.client.state}${c.closed ? ` (closed with ${c.closed.code})` : ''}: nothing was sent`);
  const sent = c.client.send(data);
  if (sent.status === 'sent') return;
  const { outcome } = await sent.settled;
  if (outcome === 'dropped' || outcome === 'connectionClosed') throw new StepFailure(`the message was not sent: a breakpoint's hold ended with "${outcome}"`);
};

export const runExpect: StepRunner<ExpectStep> = async (st, step) => {
  const c = connectionOf(st, step.connection);
  const matchers: ResolvedMatcher[] = [];
  for (const m of step.matchers) matchers.push(await resolveMatcher(m, st.body, st.schemas));
  const last = await expectMessages(c, matchers, step, within(st, step.withinMs), st.options.signal);
  c.lastMatched = last;
  for (const cap of step.captures) applyCapture(st, cap, last);
};

/** Sets the capture's variable from `msg`; fails when the value is not there. */
export function applyCapture(st: RunState, cap: CaptureSpec, msg: Received): void {
  if (cap.regex) {
    const text = msg.isBinary ? undefined : msg.data.toString('utf8');
    const re = new RegExp(st.vars.text(cap.regex.source), cap.regex.flags);
    const m = text === undefined ? null : re.exec(text);
    if (!m) throw new StepFailure(`capture ${cap.as}: the message does not match /${re.source}/${re.flags}`, `/${re.source}/${re.flags}`, showReceived(msg));
    st.vars.set(cap.as, m[1] ?? m[0]);
    return;
  }
  const root = jsonOf(msg);
  const path = formatJsonPath(cap.path ?? []);
  if (!isJson(root)) throw new StepFailure(`capture ${cap.as}: the message is not JSON, so ${path} cannot be read`, path, showReceived(msg));
  const { found, value } = valueAt(root, cap.path ?? []);
  if (!found) throw new StepFailure(`capture ${cap.as}: ${path} is not in the message`, path, showReceived(msg));
  st.vars.set(cap.as, value);
}

export const runCapture: StepRunner<Extract<Step, { kind: 'capture' }>> = async (st, step) => {
  const c = connectionOf(st, step.connection);
  if (!c.lastMatched) throw new StepFailure(`nothing to capture from: no expect has matched a message on "${step.connection}" yet`);
  for (const cap of step.captures) applyCapture(st, cap, c.lastMatched);
};

export const runWait: StepRunner<Extract<Step, { kind: 'wait' }>> = (st, step) =>
  new Promise<void>((resolve) => {
    const signal = st.options.signal;
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, step.ms);
    signal?.addEventListener('abort', done, { once: true });
  });

export const runRepeat: StepRunner<RepeatStep> = async (st, step, path, iteration) => {
  let items: unknown[];
  if (step.times !== undefined) items = Array.from({ length: step.times }, (_, i) => i);
  else if (Array.isArray(step.over)) items = step.over.map((v) => st.vars.value(v));
  else {
    const v = st.vars.lookup({ kind: 'var', name: step.over!.variable, start: 0, end: 0 });
    if (!Array.isArray(v)) throw new StepFailure(`repeat over \${${step.over!.variable}}: the variable is not a list`, 'a list', JSON.stringify(v));
    items = v;
  }
  for (let i = 0; i < items.length; i++) {
    if (st.options.signal?.aborted) return;
    await st.vars.with({ [step.as]: items[i], [step.index]: i }, () => st.runSteps(step.steps, path, [...iteration, i]));
  }
};

export const runClose: StepRunner<CloseStep> = async (st, step) => {
  const c = connectionOf(st, step.connection);
  if (c.closed) throw new StepFailure(`connection "${step.connection}" is already closed (${c.closed.code})`);
  c.client.close(step.code, st.vars.text(step.reason));
  const ms = within(st, step.withinMs);
  const deadline = performance.now() + ms;
  while (!c.closed && performance.now() < deadline && !st.options.signal?.aborted) await c.changed(deadline - performance.now(), st.options.signal);
  // Set by the connection's events while this waited.
  const closed = c.closed as CloseInfo | undefined;
  if (!closed) throw new StepFailure(`the peer did not finish the close handshake within ${ms} ms`, `close code: ${step.expectCode ?? step.code}`, 'no close frame');
  c.takeClose();
  if (step.expectCode !== undefined && closed.code !== step.expectCode) {
    throw new StepFailure(`the peer answered the close with ${closed.code} where ${step.expectCode} was expected`, `close code: ${step.expectCode}`, closeText(closed));
  }
};

function closeText(c: { code: number; reason: string }): string {
  return `close code: ${c.code}${c.reason ? `\nreason: ${c.reason}` : ''}`;
}

export const runExpectClose: StepRunner<ExpectCloseStep> = async (st, step) => {
  const c = connectionOf(st, step.connection);
  const ms = within(st, step.withinMs);
  const deadline = performance.now() + ms;
  const want = `close code: ${step.code ?? 'any'}${step.reason !== undefined ? `\nreason: ${st.vars.text(step.reason)}` : ''}`;
  let got = c.takeClose();
  while (!got && performance.now() < deadline && !st.options.signal?.aborted) {
    await c.changed(deadline - performance.now(), st.options.signal);
    got = c.takeClose();
  }
  if (!got) throw new StepFailure(`the peer did not close "${step.connection}" within ${ms} ms`, want, `still ${c.client.state}`);
  const reason = step.reason === undefined ? undefined : st.vars.text(step.reason);
  if ((step.code !== undefined && got.code !== step.code) || (reason !== undefined && got.reason !== reason)) {
    throw new StepFailure(`the peer closed with ${got.code}${got.reason ? ` "${got.reason}"` : ''}, expected ${step.code ?? 'any code'}${reason !== undefined ? ` "${reason}"` : ''}`, want, closeText(got));
  }
};

export const STEP_RUNNERS: { [K in Step['kind']]: StepRunner<Extract<Step, { kind: K }>> } = {
  connect: runConnect,
  send: runSend,
  expect: runExpect,
  capture: runCapture,
  wait: runWait,
  repeat: runRepeat,
  close: runClose,
  expectClose: runExpectClose,
};
