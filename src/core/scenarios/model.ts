// A scenario file (`*.wsx.yaml`, `*.wsx.json`) as the parser gives it: plain data, each part with its place in the text.

import type { SourceRange } from './diagnostics';

export type { SourceRange } from './diagnostics';

/** A JSON value as written in the file (strings may hold `${…}` references, filled in when used). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** One step of a JSON path: a key or an index. `$.a.b[0]`, `$['a key']`. */
export type PathSegment = string | number;

/** What a message is made of: text, JSON, bytes (hex, base64, a file), or a named message of the file. */
export type MessageBody =
  | { kind: 'text'; text: string; range: SourceRange }
  | { kind: 'json'; json: JsonValue; range: SourceRange }
  | { kind: 'hex'; hex: string; range: SourceRange }
  | { kind: 'base64'; base64: string; range: SourceRange }
  /** A file's bytes, relative to the scenario file; sent as text when `binary` is false. */
  | { kind: 'file'; path: string; binary: boolean; range: SourceRange }
  | { kind: 'ref'; name: string; range: SourceRange };

/** A JSON path and the value expected there (compared as JSON, deeply). */
export interface JsonExpectation {
  /** As written (`$.user.name`, or `name` for `$.name`). */
  path: string;
  segments: PathSegment[];
  value: JsonValue;
  range: SourceRange;
}

/** What one received message must be. Every given test must hold. */
export interface MessageMatcher {
  range: SourceRange;
  /** The whole text, exactly. */
  text?: string;
  /** A regular expression over the text (`/…/flags` or a plain pattern); variables are filled in first. */
  regex?: { source: string; flags: string };
  /** JSON paths equal to values. */
  json?: JsonExpectation[];
  /** A JSON Schema (draft-07) the message's JSON must satisfy, inline or from a file. */
  schema?: { inline: JsonValue } | { file: string };
  opcode?: 'text' | 'binary';
  /** Payload length in bytes: exactly, or within bounds. */
  length?: { min?: number; max?: number };
  /** Named message of the file the received one must equal (as JSON when both are JSON). */
  message?: string;
}

/** A value taken from a received message into a variable. */
export interface CaptureSpec {
  as: string;
  /** A JSON path into the message… */
  path?: PathSegment[];
  pathText?: string;
  /** …or a regular expression over its text: the first group, or the whole match. */
  regex?: { source: string; flags: string };
  range: SourceRange;
}

export interface EndpointSpec {
  name: string;
  url: string;
  headers: Record<string, string>;
  subprotocols: string[];
  /** PEM file of extra trusted CAs, relative to the scenario file. */
  caFile?: string;
  /** Default true. */
  rejectUnauthorized?: boolean;
  servername?: string;
  reconnect?: { enabled?: boolean; initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  handshakeTimeoutMs?: number;
  range: SourceRange;
}

interface StepBase {
  /** The step's item in the list (its first line is where a failure is shown). */
  range: SourceRange;
  /** `name:` as written, for labels. */
  name?: string;
}

export interface ConnectStep extends StepBase {
  kind: 'connect';
  connection: string;
  endpoint?: string;
  url?: string;
  headers?: Record<string, string>;
  subprotocols?: string[];
  /** Expected HTTP status: 101 (the default) or the status of a refused upgrade. */
  status?: number;
  /** Expected negotiated subprotocol; '' for none. */
  subprotocol?: string;
  withinMs?: number;
}

export interface SendStep extends StepBase {
  kind: 'send';
  connection: string;
  body: MessageBody;
}

export interface ExpectStep extends StepBase {
  kind: 'expect';
  connection: string;
  matchers: MessageMatcher[];
  /** Several matchers: in this order (default) or in any order. */
  ordered: boolean;
  /** Other messages may come before or between the expected ones (skipped). Default false: they fail the step. */
  allowOthers: boolean;
  withinMs?: number;
  /** Values taken from the (last) matched message. */
  captures: CaptureSpec[];
}

export interface CaptureStep extends StepBase {
  kind: 'capture';
  connection: string;
  captures: CaptureSpec[];
}

export interface WaitStep extends StepBase {
  kind: 'wait';
  ms: number;
}

export interface RepeatStep extends StepBase {
  kind: 'repeat';
  times?: number;
  /** The items: a list written here, or the name of a variable that holds one. */
  over?: JsonValue[] | { variable: string };
  /** Variable names of the item and the 0-based index. Defaults `item` and `index`. */
  as: string;
  index: string;
  steps: Step[];
}

export interface CloseStep extends StepBase {
  kind: 'close';
  connection: string;
  code: number;
  reason: string;
  /** The close code the peer must answer with. Default: not checked. */
  expectCode?: number;
  withinMs?: number;
}

export interface ExpectCloseStep extends StepBase {
  kind: 'expectClose';
  connection: string;
  /** Default: any code. */
  code?: number;
  reason?: string;
  withinMs?: number;
}

export type Step = ConnectStep | SendStep | ExpectStep | CaptureStep | WaitStep | RepeatStep | CloseStep | ExpectCloseStep;
export type StepKind = Step['kind'];
export const STEP_KINDS: readonly StepKind[] = ['connect', 'send', 'expect', 'capture', 'wait', 'repeat', 'close', 'expectClose'];

export interface ScenarioSpec {
  name: string;
  /** The scenario's key (where Run/Debug go and where a failure without a step is shown). */
  range: SourceRange;
  /** Start the file's mock on a free port for this scenario; its URL is `${mock.url}`. */
  mock: boolean;
  /** Default timeout of its expect, connect and close steps (ms). */
  timeoutMs?: number;
  steps: Step[];
}

export interface MockRule {
  range: SourceRange;
  match: MessageMatcher;
  reply?: MessageBody;
  /** To every client (the sender included). */
  broadcast?: MessageBody;
  close?: { code: number; reason: string };
  delayMs: number;
}

export interface MockTicker {
  range: SourceRange;
  everyMs: number;
  body: MessageBody;
}

export interface MockSpec {
  range: SourceRange;
  /** Default 0 (a free port) when a scenario starts it; `port` for Start Mock Server. */
  port?: number;
  host?: string;
  path?: string;
  /** What the server also does with every message (the relay mode), rules or not. Default `none`. */
  relay: 'broadcast' | 'broadcastOthers' | 'echo' | 'none';
  onConnect: MessageBody[];
  rules: MockRule[];
  tickers: MockTicker[];
}

export interface VariableSpec {
  name: string;
  value: JsonValue;
  range: SourceRange;
}

/** A `${env:NAME}` or `${secret:NAME}` in the file. */
export interface ExternalRef {
  name: string;
  range: SourceRange;
}

export interface ScenarioFile {
  version: 1;
  /** `.env` files to read, relative to the scenario file, in order (a later one overrides an earlier one; the process
   * environment overrides both). A missing one is skipped. */
  envFiles: string[];
  variables: Map<string, VariableSpec>;
  endpoints: Map<string, EndpointSpec>;
  messages: Map<string, { name: string; body: MessageBody; range: SourceRange }>;
  scenarios: ScenarioSpec[];
  mock?: MockSpec;
  envRefs: ExternalRef[];
  secretRefs: ExternalRef[];
}
