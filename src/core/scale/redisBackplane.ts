// Redis pub/sub backplane: several broadcast servers behind a load balancer act as one. Each server publishes what
// it relays to all its clients and delivers what the other servers publish to its own clients. The envelope
// formats are described in `./envelope`.

import { randomBytes } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { CaptureSink } from '../capture/events';
import { recordSyntheticConnection, recordSyntheticFrame } from '../capture/syntheticCapture';
import type { BackplaneHook, BroadcastServer } from '../server/broadcastServer';
import { Emitter, onUnexpectedError, type Event } from '../util/events';
import { OPCODE_BINARY, OPCODE_TEXT } from '../wire/constants';
import { decodeEnvelope, encodeEnvelope, ENVELOPE_FORMATS, type EnvelopeFormat } from './envelope';
import { backoffDelay } from '../util/backoff';
import { closeClient, describeError, newRedisClient, redactRedisUrl, type RedisClient } from './redisClient';

export { decodeEnvelope, encodeEnvelope, ENVELOPE_VERSION } from './envelope';
export type { BackplaneMessage, DecodeResult, EnvelopeErrorCode, EnvelopeFormat } from './envelope';
export { redactRedisUrl } from './redisClient';

export interface RedisBackplaneOptions {
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://…` (TLS). The password is never shown or recorded. */
  url: string;
  /** The pub/sub channel the servers share. */
  channel: string;
  /** `'json'` (default): envelopes with the server id and the message type. `'bare'`: the payload alone (see `./envelope`). */
  envelope?: EnvelopeFormat;
  /** This server's id in JSON envelopes; must be unique on the channel. Default: 12 random hex digits. */
  serverId?: string;
  /** Where the backplane's traffic is recorded, as its own connection (`connectionId`). Default: not recorded. */
  capture?: CaptureSink;
  /**
   * Delay before reconnecting after Redis went away: `initialDelayMs` (default 200), doubled on each failed
   * attempt up to `maxDelayMs` (default 10000), each less up to 20 % at random so that servers do not retry in step.
   */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** A channel message longer than this (bytes, envelope included) is refused (`ERR_ENVELOPE_TOO_LARGE`). Default 16 MiB. */
  maxMessageBytes?: number;
  /**
   * Publishes waiting for Redis beyond this many are dropped (counted in `publishFailed`), so a stalled Redis
   * cannot grow memory without bound. Default 10000.
   */
  maxPendingPublishes?: number;
}

/**
 * - `connecting`: `start()` is running;
 * - `connected`: subscribed, and publishing;
 * - `reconnecting`: Redis went away after `start()`; local broadcast goes on, publishes are dropped (counted);
 * - `stopped`: before `start()`, after `stop()`, or after `start()` failed.
 */
export type BackplaneState = 'connecting' | 'connected' | 'reconnecting' | 'stopped';

export interface BackplaneStateChange {
  state: BackplaneState;
  /** As `lastError` at the change: why it is reconnecting or stopped after a failed start. */
  error?: string;
}

export interface BackplaneStats {
  /** Messages handed to Redis. */
  published: number;
  /** Messages read off the channel: own echoes and malformed ones included. */
  received: number;
  /** Messages from other servers sent to the local clients (one per message, whatever the number of clients). */
  delivered: number;
  /** Messages to publish while not connected: dropped, not queued. */
  droppedWhileDown: number;
  /** Publishes Redis did not take: the connection broke with them in flight, or too many were waiting. */
  publishFailed: number;
  /** This server's own messages coming back from Redis, skipped. */
  ignoredOwn: number;
  /** Channel messages that were not valid envelopes (each recorded as an error event). */
  malformed: number;
}

/** A backplane failure with a stable code: `ERR_REDIS_UNREACHABLE`, `ERR_SUBSCRIBE`, `ERR_STOPPED`, `ERR_ALREADY_STARTED`. */
export class BackplaneError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BackplaneError';
  }
}

const DEFAULT_INITIAL_DELAY_MS = 200;
const DEFAULT_MAX_DELAY_MS = 10_000;
const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_PENDING_PUBLISHES = 10_000;
/**
 * Bare mode: an own publish Redis acknowledged this long ago without its echo coming back is forgotten. The echo
 * is written to the subscriber before the publisher's reply, so it normally follows within milliseconds.
 */
const OWN_ECHO_STALE_MS = 10_000;

let nextBackplaneNumber = 1;

/** Bare mode: one of this server's publishes whose echo has not come back yet. */
interface OwnPublish {
  data: Buffer;
  /** When Redis acknowledged it (Date.now()); 0 until then. */
  ackedAt: number;
  /** Its echo will never come (no subscriber got it, or the publish failed). */
  dead: boolean;
}

/** One `start()` → `stop()`: the two Redis connections and what belongs to them. */
interface Run {
  publisher: RedisClient;
  subscriber: RedisClient;
  /** Set once subscribed: from then on, lost connections are retried instead of failing `start()`. */
  started: boolean;
  stopped: boolean;
}

export class RedisBackplane {
  readonly serverId: string;
  /** The capture's connection id of the backplane traffic (`backplane1`, `backplane2`…). */
  readonly connectionId: string;
  private readonly url: string;
  private readonly redactedUrl: string;
  private readonly channel: string;
  private readonly format: EnvelopeFormat;
  private readonly capture: CaptureSink | undefined;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxMessageBytes: number;
  private readonly maxPendingPublishes: number;
  private readonly _onDidChangeState = new Emitter<BackplaneStateChange>();
  /** Fires on every state change. */
  readonly onDidChangeState: Event<BackplaneStateChange> = this._onDidChangeState.event;
  private _state: BackplaneState = 'stopped';
  private _lastError: string | undefined;
  private readonly _stats: BackplaneStats = {
    published: 0,
    received: 0,
    delivered: 0,
    droppedWhileDown: 0,
    publishFailed: 0,
    ignoredOwn: 0,
    malformed: 0,
  };
  private run: Run | undefined;
  private stopping: Promise<void> | undefined;
  /** Bare mode: own publishes in order, oldest first. */
  private ownPublishes: OwnPublish[] = [];
  private readonly hook: BackplaneHook = { publish: (data, isBinary) => this.publish(data, isBinary) };
  private readonly onPublishFailed = (): void => {
    this._stats.publishFailed++;
  };

  /** Throws a TypeError for invalid options. Nothing connects before `start()`. */
  constructor(
    private readonly server: BroadcastServer,
    options: RedisBackplaneOptions,
  ) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const { url, channel, envelope = 'json', serverId, capture, reconnect = {} } = options;
    if (typeof url !== 'string') throw new TypeError('url must be a string like redis://127.0.0.1:6379');
    this.redactedUrl = redactRedisUrl(url);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError(`url is not a valid URL: ${this.redactedUrl}`);
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      throw new TypeError(`url must start with redis:// or rediss://; got ${this.redactedUrl}`);
    }
    if (typeof channel !== 'string' || channel === '') throw new TypeError('channel must be a non-empty string');
    if (!ENVELOPE_FORMATS.includes(envelope)) throw new TypeError(`envelope must be 'json' or 'bare'; got ${String(envelope)}`);
    if (serverId !== undefined && (typeof serverId !== 'string' || serverId === '')) throw new TypeError('serverId must be a non-empty string');
    if (capture !== undefined && typeof capture?.append !== 'function') throw new TypeError('capture must be a CaptureSink (with append())');
    const initial = reconnect.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS;
    const max = reconnect.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    if (!Number.isInteger(initial) || initial < 1) throw new TypeError(`reconnect.initialDelayMs must be a positive integer; got ${initial}`);
    if (!Number.isInteger(max) || max < initial) throw new TypeError(`reconnect.maxDelayMs must be an integer ≥ initialDelayMs; got ${max}`);
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) throw new TypeError(`maxMessageBytes must be a positive integer; got ${maxMessageBytes}`);
    const maxPending = options.maxPendingPublishes ?? DEFAULT_MAX_PENDING_PUBLISHES;
    if (!Number.isInteger(maxPending) || maxPending < 1) throw new TypeError(`maxPendingPublishes must be a positive integer; got ${maxPending}`);
    this.url = url;
    this.channel = channel;
    this.format = envelope;
    this.serverId = serverId ?? randomBytes(6).toString('hex');
    this.capture = capture;
    this.initialDelayMs = initial;
    this.maxDelayMs = max;
    this.maxMessageBytes = maxMessageBytes;
    this.maxPendingPublishes = maxPending;
    this.connectionId = `backplane${nextBackplaneNumber++}`;
  }

  get state(): BackplaneState {
    return this._state;
  }

  /**
   * Why the backplane is not connected, readable (`connect ECONNREFUSED 127.0.0.1:6379`): the last Redis error
   * seen while `reconnecting`, or why `start()` failed. Cleared when connected again.
   */
  get lastError(): string | undefined {
    return this._lastError;
  }

  /** A copy of the counters since construction. */
  get stats(): BackplaneStats {
    return { ...this._stats };
  }

  /** The Redis URL with its password replaced by `***`, as shown and recorded. */
  get displayUrl(): string {
    return this.redactedUrl;
  }

  /**
   * Connects to Redis, subscribes to the channel, and hooks into the server. Resolves once subscribed. If Redis
   * cannot be reached now, rejects with `ERR_REDIS_UNREACHABLE` (no retries: the user should hear at once that the
   * URL is wrong); after that, lost connections are retried with backoff.
   */
  async start(): Promise<void> {
    if (this._state !== 'stopped' || this.stopping) throw new BackplaneError('ERR_ALREADY_STARTED', `The backplane is ${this._state}`);
    this._lastError = undefined;
    this.setState('connecting');
    const publisher = newRedisClient(this.url, this.maxPendingPublishes, (retries) => this.retryDelay(run, retries));
    const subscriber = publisher.duplicate();
    const run: Run = { publisher, subscriber, started: false, stopped: false };
    this.run = run;
    for (const client of [publisher, subscriber]) {
      // node-redis emits 'error' for every failed attempt; without a listener, that would crash the host.
      client.on('error', (err: unknown) => this.onRedisError(run, err));
      client.on('ready', () => this.updateState(run));
      client.on('end', () => this.updateState(run));
    }
    const connecting = [publisher.connect(), subscriber.connect()];
    // When one fails, the other is destroyed and rejects too; that second rejection says nothing new.
    for (const p of connecting) p.catch(() => undefined);
    try {
      await Promise.all(connecting);
    } catch (err) {
      throw this.failStart(run, new BackplaneError('ERR_REDIS_UNREACHABLE', `Cannot reach Redis at ${this.redactedUrl}: ${describeError(err)}`, { cause: err }));
    }
    try {
      await subscriber.subscribe(this.channel, (message: Buffer) => this.onChannelMessage(run, message), true);
    } catch (err) {
      throw this.failStart(run, new BackplaneError('ERR_SUBSCRIBE', `Cannot subscribe to ${this.channel} on ${this.redactedUrl}: ${describeError(err)}`, { cause: err }));
    }
    if (run.stopped) throw new BackplaneError('ERR_STOPPED', 'The backplane was stopped while starting');
    run.started = true;
    if (this.capture) recordSyntheticConnection(this.capture, { connectionId: this.connectionId, state: 'open', role: 'client', meta: this.connectionMeta() });
    this.server.setBackplane(this.hook);
    this.updateState(run);
  }

  /** Unhooks from the server and closes the Redis connections (in-flight publishes get a moment to finish). */
  async stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const run = this.run;
    if (!run) return;
    this.stopping = this.doStop(run);
    try {
      await this.stopping;
    } finally {
      this.stopping = undefined;
    }
  }

  private async doStop(run: Run): Promise<void> {
    const wasStarted = run.started;
    run.stopped = true;
    this.run = undefined;
    this.ownPublishes = [];
    if (wasStarted) this.server.setBackplane(undefined);
    await Promise.all([closeClient(run.publisher), closeClient(run.subscriber)]);
    if (wasStarted && this.capture) {
      recordSyntheticConnection(this.capture, { connectionId: this.connectionId, state: 'closed', role: 'client', reason: 'stopped', clean: true });
    }
    this.setState('stopped');
  }

  /** Stops (without awaiting) and releases the emitter. */
  dispose(): void {
    void this.stop().finally(() => this._onDidChangeState.dispose());
  }

  /** The hook's publish: on the relay path, so it returns at once and never throws. */
  private publish(data: Buffer, isBinary: boolean): void {
    const run = this.run;
    if (run === undefined || this._state !== 'connected') {
      this._stats.droppedWhileDown++;
      return;
    }
    try {
      const payload = encodeEnvelope(this.format, { server: this.serverId, data, isBinary });
      this._stats.published++;
      if (this.format === 'bare') {
        const own: OwnPublish = { data: payload, ackedAt: 0, dead: false };
        this.ownPublishes.push(own);
        if (this.ownPublishes.length > this.maxPendingPublishes) this.ownPublishes.shift();
        run.publisher.publish(this.channel, payload).then(
          (receivers) => {
            own.ackedAt = Date.now();
            // Our own subscriber counts among the receivers; none means the echo will not come.
            if (receivers === 0) own.dead = true;
          },
          () => {
            own.dead = true;
            this._stats.publishFailed++;
          },
        );
      } else {
        run.publisher.publish(this.channel, payload).catch(this.onPublishFailed);
      }
      if (this.capture) {
        const opcode = this.format === 'json' || !isBinary ? OPCODE_TEXT : OPCODE_BINARY;
        recordSyntheticFrame(this.capture, { connectionId: this.connectionId, direction: 'c2s', opcode, payload });
      }
    } catch (err) {
      this._stats.publishFailed++;
      onUnexpectedError(err);
    }
  }

  private onChannelMessage(run: Run, raw: Buffer): void {
    // Called from inside node-redis's reply parser: a throw here would reset its parser.
    try {
      if (run.stopped) return;
      this._stats.received++;
      if (raw.length > this.maxMessageBytes) {
        this.recordIn(raw, isUtf8(raw) ? OPCODE_TEXT : OPCODE_BINARY);
        this.malformed('ERR_ENVELOPE_TOO_LARGE', `${raw.length} bytes, over maxMessageBytes ${this.maxMessageBytes}`);
        return;
      }
      if (this.format === 'bare' && this.isOwnEcho(raw)) {
        this._stats.ignoredOwn++;
        return;
      }
      const decoded = decodeEnvelope(this.format, raw);
      if (!decoded.ok) {
        this.recordIn(raw, isUtf8(raw) ? OPCODE_TEXT : OPCODE_BINARY);
        this.malformed(decoded.code, decoded.message);
        return;
      }
      const { message } = decoded;
      if (message.server === this.serverId) {
        this._stats.ignoredOwn++;
        return;
      }
      this.recordIn(raw, this.format === 'json' || !message.isBinary ? OPCODE_TEXT : OPCODE_BINARY);
      this._stats.delivered++;
      this.server.deliverFromBackplane(message.data, message.isBinary);
    } catch (err) {
      onUnexpectedError(err);
    }
  }

  /**
   * Bare mode: whether `raw` is the next of our own publishes coming back. Redis delivers them to our subscriber
   * in the order we published them, so only the oldest can match; an identical message from another publisher
   * arriving first is taken for ours, and ours then delivered in its place: the clients see the same bytes.
   */
  private isOwnEcho(raw: Buffer): boolean {
    const own = this.ownPublishes;
    const now = Date.now();
    while (own.length > 0 && (own[0]!.dead || (own[0]!.ackedAt !== 0 && now - own[0]!.ackedAt > OWN_ECHO_STALE_MS))) own.shift();
    if (own.length === 0 || !own[0]!.data.equals(raw)) return false;
    own.shift();
    return true;
  }

  private recordIn(payload: Buffer, opcode: number): void {
    if (this.capture) recordSyntheticFrame(this.capture, { connectionId: this.connectionId, direction: 's2c', opcode, payload });
  }

  private malformed(code: string, message: string): void {
    this._stats.malformed++;
    if (!this.capture) return;
    this.capture.append({
      kind: 'error',
      connectionId: this.connectionId,
      time: performance.timeOrigin + performance.now(),
      direction: 's2c',
      code,
      // Invalid payload data; nothing is closed: the backplane skips the message and goes on.
      closeCode: code === 'ERR_ENVELOPE_TOO_LARGE' ? 1009 : 1007,
      message: `Backplane message skipped: ${message}`,
    });
  }

  /** node-redis's reconnect strategy: give up while starting (start() reports it), else capped backoff with jitter. */
  private retryDelay(run: Run, retries: number): number | false {
    if (!run.started || run.stopped) return false;
    return Math.max(1, backoffDelay(retries + 1, { initialDelayMs: this.initialDelayMs, maxDelayMs: this.maxDelayMs, jitter: 0.2 }));
  }

  private onRedisError(run: Run, err: unknown): void {
    if (run.stopped) return;
    this._lastError = describeError(err);
    this.updateState(run);
  }

  private failStart(run: Run, err: BackplaneError): BackplaneError {
    if (run.stopped) return new BackplaneError('ERR_STOPPED', 'The backplane was stopped while starting', { cause: err });
    run.stopped = true;
    this.run = undefined;
    this._lastError = err.message;
    run.publisher.destroy();
    run.subscriber.destroy();
    this.setState('stopped');
    return err;
  }

  private updateState(run: Run): void {
    if (run.stopped || !run.started) return;
    const up = run.publisher.isReady && run.subscriber.isReady;
    const before = this._state;
    this.setState(up ? 'connected' : 'reconnecting');
    // An outage is on the capture's timeline too: the backplane connection closes (not cleanly, with Redis's reason)
    // and opens again when Redis is back, so the messages that stayed local are seen to fall between the two.
    if (this.capture === undefined) return;
    if (before === 'connected' && this._state === 'reconnecting') {
      recordSyntheticConnection(this.capture, {
        connectionId: this.connectionId,
        state: 'closed',
        role: 'client',
        reason: `Redis connection lost${this._lastError ? `: ${this._lastError}` : ''}; relaying locally until it is back`,
        clean: false,
      });
    } else if (before === 'reconnecting' && this._state === 'connected') {
      recordSyntheticConnection(this.capture, {
        connectionId: this.connectionId,
        state: 'open',
        role: 'client',
        meta: { ...this.connectionMeta(), reconnected: 'true' },
      });
    }
  }

  /** The labels of the backplane connection's 'open' events. */
  private connectionMeta(): Record<string, string> {
    return { source: 'backplane', url: this.redactedUrl, channel: this.channel, envelope: this.format, serverId: this.serverId };
  }

  private setState(state: BackplaneState): void {
    if (state === this._state) return;
    // Echoes of publishes made before a break never come back (the subscription is new), so forget them.
    if (this._state === 'connected') this.ownPublishes = [];
    if (state === 'connected') this._lastError = undefined;
    this._state = state;
    this._onDidChangeState.fire({ state, error: this._lastError });
  }
}
