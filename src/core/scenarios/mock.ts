// A file's `mock` section run on the embedded BroadcastServer: a greeting on connect, rules that answer, broadcast or
// close on a matching message, and tickers. It starts a server of its own, or drives one that is already running.

import { BroadcastServer, type BroadcastServerOptions, type RelayMode } from '../server/broadcastServer';
import { DisposableStore, Emitter, type Event } from '../util/events';
import { encodeBody, type BodyContext } from './body';
import { jsonOf, isJson, mismatch, resolveMatcher, type Received, type ResolvedMatcher } from './match';
import type { MessageBody, MockSpec, ScenarioFile } from './model';
import { loadEnvironment } from './envFile';
import { SecretMasker } from './secrets';
import { loadSecrets, Variables, type SecretProvider } from './variables';

export interface MockOptions {
  /**
   * A running server to drive instead of starting one (Start Mock Server on the session's server). `stop()` then only
   * detaches, and puts back the relay mode it had.
   */
  server?: BroadcastServer;
  /**
   * Options of the server it starts. Their `port` wins over the file's (a scenario's mock passes 0); the file's host,
   * path and relay win over theirs. The server's own safe defaults (127.0.0.1, limits) hold for the rest.
   */
  serverOptions?: BroadcastServerOptions;
  /** The file's folder, for `file:` bodies, schema files and .env files. Default: the working directory. */
  baseDir?: string;
  /** The environment for `${env:…}`. Default: the file's envFiles under the process environment. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Values of `${secret:NAME}` (as RunOptions.secrets). */
  secrets?: SecretProvider;
  /** Gets the secrets' values too (as RunOptions.masker). */
  masker?: SecretMasker;
}

/** A rule that failed to act (a variable without a value, a client gone meanwhile). */
export interface MockError {
  clientId?: string;
  message: string;
}

export class ScenarioMock {
  private readonly store = new DisposableStore();
  private readonly _onDidError = new Emitter<MockError>();
  /** Problems of the rules; the mock goes on. */
  readonly onDidError: Event<MockError> = this._onDidError.event;
  /** Each client's (and the tickers') work in order, also when a body is read from a file or a rule waits. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Ends the delays of rules still waiting, at stop(). */
  private readonly delays = new Set<() => void>();
  private stopped = false;

  private constructor(
    readonly server: BroadcastServer,
    /** `ws://host:port` and the file's path: what `${mock.url}` is. */
    readonly url: string,
    private readonly spec: MockSpec,
    private readonly ctx: BodyContext,
    private readonly rules: ResolvedMatcher[],
    private readonly owned: boolean,
    private readonly relayBefore: RelayMode,
  ) {}

  /** Starts the mock of `file` (which must have a `mock` section). Rejects when the server cannot start. */
  static async start(file: ScenarioFile, options: MockOptions = {}): Promise<ScenarioMock> {
    const spec = file.mock;
    if (!spec) throw new TypeError('the file has no mock section');
    const baseDir = options.baseDir ?? process.cwd();
    const env = options.env ?? { ...(await loadEnvironment(file.envFiles, baseDir, {}, true)), ...process.env };
    const secrets = await loadSecrets(file, options.secrets, options.masker ?? new SecretMasker());
    const vars = new Variables(file, env, secrets);
    const ctx: BodyContext = { file, baseDir, vars };
    const schemas = new Map<string, unknown>();
    const rules: ResolvedMatcher[] = [];
    for (const r of spec.rules) rules.push(await resolveMatcher(r.match, ctx, schemas));
    const server = options.server ?? new BroadcastServer();
    const relayBefore = server.relayMode;
    if (options.server) {
      if (server.state !== 'running') throw new Error('the server to drive is not running');
      server.setRelay(spec.relay);
    } else {
      const o = options.serverOptions ?? {};
      await server.start({ ...o, port: o.port ?? spec.port ?? 0, host: spec.host ?? o.host, path: spec.path ?? o.path, relay: spec.relay });
    }
    const a = server.address!;
    const host = a.host.includes(':') ? `[${a.host}]` : a.host;
    const url = `${a.url.startsWith('wss:') ? 'wss' : 'ws'}://${host}:${a.port}${spec.path ?? ''}`;
    const mock = new ScenarioMock(server, url, spec, ctx, rules, !options.server, relayBefore);
    mock.attach();
    return mock;
  }

  private attach(): void {
    const s = this.server;
    this.store.add(s.onDidConnect((info) => this.enqueue(info.id, () => this.greet(info.id))));
    this.store.add(s.onDidReceive((e) => this.enqueue(e.clientId, () => this.answer(e.clientId, { data: e.data, isBinary: e.isBinary, seq: 0 }))));
    for (const t of this.spec.tickers) {
      let tick = 0;
      this.store.interval(() => this.enqueue(undefined, () => this.broadcast(t.body, { tick: ++tick })), t.everyMs);
    }
  }

  private enqueue(clientId: string | undefined, fn: () => Promise<void>): void {
    const key = clientId ?? '';
    const next = (this.chains.get(key) ?? Promise.resolve()).then(async () => {
      if (this.stopped) return;
      try {
        await fn();
      } catch (err) {
        this._onDidError.fire({ clientId, message: (err as Error).message });
      }
    });
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  private async greet(clientId: string): Promise<void> {
    const vars = this.vars({ client: clientId });
    for (const body of this.spec.onConnect) this.server.sendTo(clientId, await encodeBody(body, { ...this.ctx, vars }));
  }

  private async answer(clientId: string, msg: Received): Promise<void> {
    const i = this.rules.findIndex((m) => mismatch(m, msg) === undefined);
    if (i === -1) return;
    const rule = this.spec.rules[i];
    const json = jsonOf(msg);
    const vars = this.vars({ client: clientId, message: msg.isBinary ? msg.data.toString('hex') : msg.data.toString('utf8') });
    if (isJson(json)) vars.messageJson = json;
    const c = { ...this.ctx, vars };
    const reply = rule.reply && (await encodeBody(rule.reply, c));
    const all = rule.broadcast && (await encodeBody(rule.broadcast, c));
    if (rule.delayMs > 0) await this.delay(rule.delayMs);
    if (this.stopped || !this.server.client(clientId)) return;
    if (reply !== undefined) this.server.sendTo(clientId, reply);
    if (all !== undefined) this.server.sendToAll(all);
    if (rule.close) this.server.disconnect(clientId, rule.close.code, vars.text(rule.close.reason));
  }

  private async broadcast(body: MessageBody, values: Record<string, unknown>): Promise<void> {
    this.server.sendToAll(await encodeBody(body, { ...this.ctx, vars: this.vars(values) }));
  }

  private vars(values: Record<string, unknown>): Variables {
    const v = this.ctx.vars.child();
    for (const [k, x] of Object.entries(values)) v.set(k, x);
    return v;
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.delays.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.delays.add(done);
    });
  }

  /** Stops the server it started (or detaches from the one it drove) and its tickers. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.store.dispose();
    // The rules still waiting find the mock stopped and do nothing.
    for (const d of [...this.delays]) d();
    this._onDidError.dispose();
    if (this.owned) await this.server.stop();
    else if (this.server.state === 'running') this.server.setRelay(this.relayBefore);
  }
}
