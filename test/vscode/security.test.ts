import * as assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { mock } from 'node:test';
import * as vscode from 'vscode';
import WebSocket from 'ws';
import type { ExtensionApi } from '../../src/extension/extension';
import { readEndpointTls, resolveServerSecurity, throttledWarn } from '../../src/extension/security';
import type { LimitBreachEvent, RejectEvent } from '../../src/extension/session';
import { readSavedEndpoints, readServerSettings, SettingsError } from '../../src/extension/settings';

/** Opens a ws client; resolves with the socket when open, or with the HTTP status / error code when refused. */
function tryConnect(url: string, options: WebSocket.ClientOptions = {}, protocols?: string[]): Promise<{ ws?: WebSocket; status?: number; error?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, options);
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode });
      res.resume();
      ws.terminate();
    });
    ws.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

const SETTINGS = [
  'server.port',
  'server.host',
  'server.auth.enabled',
  'server.tls.certFile',
  'server.tls.keyFile',
  'server.allowedOrigins',
  'server.rateLimit.messagesPerSecond',
  'server.rateLimit.burst',
  'server.rateLimit.action',
  'endpoints',
] as const;

describe('Security: tokens, auth and development certificates in a real extension host', function () {
  let api: ExtensionApi;
  const config = () => vscode.workspace.getConfiguration('wsInspector');
  const set = (key: (typeof SETTINGS)[number], value: unknown) => config().update(key, value, vscode.ConfigurationTarget.Global);
  const opened: WebSocket[] = [];

  before(async () => {
    const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'websocket-inspector');
    assert.ok(ext, 'the extension is installed');
    api = (await ext.activate()) as ExtensionApi;
    await vscode.commands.executeCommand('wsInspector.stopServer');
    await set('server.port', 0);
  });

  afterEach(async () => {
    for (const ws of opened.splice(0)) ws.terminate();
    // Stop first: a settings change while the server runs asks to restart it.
    await vscode.commands.executeCommand('wsInspector.stopServer');
  });

  after(async () => {
    for (const key of SETTINGS) await set(key, undefined);
  });

  it('contributes the security commands', async () => {
    const all = await vscode.commands.getCommands(true);
    for (const id of [
      'wsInspector.generateCertificate',
      'wsInspector.generateToken',
      'wsInspector.copyConnectionUrl',
      'wsInspector.copyAuthHeader',
      'wsInspector.setJwtSecret',
    ]) {
      assert.ok(all.includes(id), `${id} is registered`);
    }
  });

  it('with auth on, a client without the token gets 401; the copied URL and header get in', async () => {
    assert.equal(await vscode.commands.executeCommand('wsInspector.generateToken', { replace: true }), true);
    await set('server.auth.enabled', true);
    const rejects: RejectEvent[] = [];
    const sub = api.session.onDidReject((e) => rejects.push(e));
    try {
      const url = (await vscode.commands.executeCommand('wsInspector.startServer')) as string;
      assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/$/);
      assert.deepEqual(api.session.serverProtection, { tls: false, auth: true });
      assert.equal(api.session.serverExposed, false);

      const without = await tryConnect(url);
      assert.equal(without.status, 401);
      const wrong = await tryConnect(`${url}?token=not-the-token`);
      assert.equal(wrong.status, 401);

      await vscode.env.clipboard.writeText('');
      await vscode.commands.executeCommand('wsInspector.copyConnectionUrl');
      const withToken = await vscode.env.clipboard.readText();
      const u = new URL(withToken);
      assert.equal(`${u.protocol}//${u.host}${u.pathname}`, url);
      const token = u.searchParams.get('token') ?? '';
      assert.match(token, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
      const byUrl = await tryConnect(withToken);
      assert.ok(byUrl.ws, `connected with the copied URL (${byUrl.status ?? byUrl.error})`);
      opened.push(byUrl.ws);

      await vscode.commands.executeCommand('wsInspector.copyAuthHeader');
      const header = await vscode.env.clipboard.readText();
      assert.equal(header, `Authorization: Bearer ${token}`);
      const byHeader = await tryConnect(url, { headers: { Authorization: header.slice('Authorization: '.length) } });
      assert.ok(byHeader.ws, `connected with the header (${byHeader.status ?? byHeader.error})`);
      opened.push(byHeader.ws);

      const bySubprotocol = await tryConnect(url, {}, ['bearer', token]);
      assert.ok(bySubprotocol.ws, `connected with the subprotocol (${bySubprotocol.status ?? bySubprotocol.error})`);
      assert.notEqual(bySubprotocol.ws.protocol, token, 'the server never selects the token as the subprotocol');
      opened.push(bySubprotocol.ws);

      assert.equal(api.session.clientCount, 3);
      assert.deepEqual(
        rejects.map((r) => [r.status, r.code]),
        [
          [401, 'ERR_AUTH_MISSING'],
          [401, 'ERR_AUTH_INVALID'],
        ],
      );
      for (const r of rejects) assert.ok(!JSON.stringify(r).includes(token), 'rejections never carry the token');
    } finally {
      sub.dispose();
    }
  });

  it('a new token replaces the old one: after a restart the old URL gets 401', async () => {
    await set('server.auth.enabled', true);
    await vscode.commands.executeCommand('wsInspector.startServer');
    await vscode.commands.executeCommand('wsInspector.copyConnectionUrl');
    const oldUrl = await vscode.env.clipboard.readText();
    await vscode.commands.executeCommand('wsInspector.generateToken', { replace: true });
    await vscode.commands.executeCommand('wsInspector.stopServer');
    const url = (await vscode.commands.executeCommand('wsInspector.startServer')) as string;
    const old = await tryConnect(`${url}?token=${new URL(oldUrl).searchParams.get('token')}`);
    assert.equal(old.status, 401);
    await vscode.commands.executeCommand('wsInspector.copyConnectionUrl');
    const newUrl = await vscode.env.clipboard.readText();
    assert.notEqual(newUrl, oldUrl);
    const fresh = await tryConnect(newUrl);
    assert.ok(fresh.ws, `the new token works (${fresh.status ?? fresh.error})`);
    opened.push(fresh.ws);
  });

  it('Generate Development Certificate writes a certificate and a private key that parse; the server then serves wss://', async () => {
    await set('server.auth.enabled', false);
    await set('server.tls.certFile', undefined);
    await set('server.tls.keyFile', undefined);
    const r = (await vscode.commands.executeCommand('wsInspector.generateCertificate', { useForServer: true })) as {
      certFile: string;
      keyFile: string;
      fingerprint256: string;
    };
    assert.ok(r, 'the command returns the files it wrote');
    const certPem = await fs.readFile(r.certFile, 'utf8');
    const cert = new X509Certificate(certPem);
    assert.equal(cert.fingerprint256, r.fingerprint256);
    assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.ok(cert.checkPrivateKey(createPrivateKey(await fs.readFile(r.keyFile, 'utf8'))));
    assert.equal((await fs.stat(r.keyFile)).mode & 0o777, 0o600, 'the key file is private');
    assert.equal(config().get('server.tls.certFile'), r.certFile);
    assert.equal(config().get('server.tls.keyFile'), r.keyFile);

    const url = (await vscode.commands.executeCommand('wsInspector.startServer')) as string;
    assert.match(url, /^wss:\/\/127\.0\.0\.1:\d+\/$/);
    assert.deepEqual(api.session.serverProtection, { tls: true, auth: false });
    const trusted = await tryConnect(url, { ca: certPem });
    assert.ok(trusted.ws, `a client given the certificate as CA connects (${trusted.error})`);
    opened.push(trusted.ws);
    const untrusted = await tryConnect(url);
    assert.equal(untrusted.error, 'DEPTH_ZERO_SELF_SIGNED_CERT');

    // A saved endpoint's caFile reaches the outgoing connection.
    await set('endpoints', [{ name: 'dev wss', url, caFile: r.certFile }]);
    const id = await vscode.commands.executeCommand('wsInspector.connect', url);
    assert.equal(typeof id, 'string', 'Connect to Endpoint opened the saved wss endpoint with its CA file');
    api.session.closeOutgoing(String(id));
    // Without it (and without allowSelfSigned) the same URL fails with a readable TLS message.
    await set('endpoints', []);
    await assert.rejects(api.session.connect(url), (err: Error) => /self[- ]signed|certificate/i.test(err.message));
    await set('endpoints', [{ url, allowSelfSigned: true }]);
    const insecure = await vscode.commands.executeCommand('wsInspector.connect', url);
    assert.equal(typeof insecure, 'string', 'the saved endpoint with allowSelfSigned connects');
    api.session.closeOutgoing(String(insecure));
  });

  it('an unreadable certificate file is an error that names the setting and the path; no server starts', async () => {
    await set('server.tls.certFile', '/nonexistent/wsi-cert.pem');
    await set('server.tls.keyFile', '/nonexistent/wsi-key.pem');
    const noSecrets = { get: async () => undefined } as unknown as vscode.SecretStorage;
    await assert.rejects(
      resolveServerSecurity(readServerSettings().security, noSecrets),
      (err: Error) => err.message === 'Setting wsInspector.server.tls.certFile: cannot read /nonexistent/wsi-cert.pem (no such file).',
    );
    // The command shows that error in a notification and starts nothing.
    assert.equal(await vscode.commands.executeCommand('wsInspector.startServer'), undefined);
    assert.equal(api.session.serverAddress, undefined);
  });

  it('bound to 0.0.0.0 with auth on, the server is exposed (what the status bar warns about) and still asks for the token', async () => {
    await set('server.tls.certFile', undefined);
    await set('server.tls.keyFile', undefined);
    await set('server.auth.enabled', true);
    await set('server.host', '0.0.0.0');
    try {
      const url = (await vscode.commands.executeCommand('wsInspector.startServer')) as string;
      assert.match(url, /^ws:\/\/0\.0\.0\.0:\d+\/$/);
      assert.equal(api.session.serverExposed, true);
      const port = new URL(url).port;
      const refused = await tryConnect(`ws://127.0.0.1:${port}/`);
      assert.equal(refused.status, 401);
      await vscode.commands.executeCommand('wsInspector.stopServer');
      assert.equal(api.session.serverExposed, false, 'not exposed once stopped');
    } finally {
      // Left at 0.0.0.0 without auth, the next start would stop at the "exposed" question.
      await set('server.host', undefined);
    }
  });

  it('the origin allowlist and the rate limit from the settings reach the server: 403, then a 1008 close and a breach event', async () => {
    await set('server.auth.enabled', false);
    await set('server.tls.certFile', undefined);
    await set('server.tls.keyFile', undefined);
    await set('server.allowedOrigins', ['http://localhost:3000']);
    await set('server.rateLimit.messagesPerSecond', 1);
    await set('server.rateLimit.burst', 2);
    await set('server.rateLimit.action', 'close');
    const breaches: LimitBreachEvent[] = [];
    const rejects: RejectEvent[] = [];
    const subs = [api.session.onDidBreachLimit((e) => breaches.push(e)), api.session.onDidReject((e) => rejects.push(e))];
    try {
      const url = (await vscode.commands.executeCommand('wsInspector.startServer')) as string;
      const evil = await tryConnect(url, { origin: 'http://evil.test' });
      assert.equal(evil.status, 403);
      assert.deepEqual(rejects.map((r) => [r.status, r.code]), [[403, 'ERR_ORIGIN']]);
      const ok = await tryConnect(url, { origin: 'http://localhost:3000' });
      assert.ok(ok.ws, `the allowed origin connects (${ok.status ?? ok.error})`);
      opened.push(ok.ws);
      const closed = new Promise<number>((resolve) => ok.ws!.once('close', (code) => resolve(code)));
      for (let i = 0; i < 5; i++) ok.ws.send(`m${i}`);
      assert.equal(await closed, 1008);
      assert.deepEqual(breaches.map((b) => [b.limit, b.action]), [['rate', 'close']]);
    } finally {
      subs.forEach((d) => d.dispose());
    }
  });

  it('a bad security setting is a SettingsError that names it', async () => {
    await set('server.rateLimit.action', 'explode');
    assert.throws(readServerSettings, (err: Error) => err instanceof SettingsError && err.message.startsWith('Setting wsInspector.server.rateLimit.action: expected one of drop, close'));
    await set('server.rateLimit.action', undefined);
    await set('server.tls.certFile', '/tmp/only-a-cert.pem');
    assert.throws(readServerSettings, /Setting wsInspector\.server\.tls\.keyFile: wss:\/\/ needs both/);
    await set('server.tls.certFile', undefined);
  });

  it('a workspace cannot allow remote binding, set JWT keys, or turn certificate checks off', async () => {
    assert.ok(vscode.workspace.workspaceFolders?.length, 'the suite runs with a folder open');
    for (const key of ['server.allowRemote', 'server.auth.jwt.algorithms', 'server.auth.jwt.publicKeyFile']) {
      await assert.rejects(
        Promise.resolve(config().update(key, key === 'server.allowRemote' ? true : key.endsWith('algorithms') ? ['RS256'] : '/tmp/k.pem', vscode.ConfigurationTarget.Workspace)),
        `${key} cannot be written to workspace settings`,
      );
    }
    const wsUrl = 'wss://127.0.0.1:1/';
    await config().update('endpoints', [{ url: wsUrl, allowSelfSigned: true }], vscode.ConfigurationTarget.Workspace);
    try {
      const before = api.session.outgoingConnections().length;
      const [saved] = readSavedEndpoints().endpoints;
      assert.throws(() => readEndpointTls(saved, 0), /endpoints\[0\]\.allowSelfSigned: turning certificate checks off is only honoured in user settings/);
      assert.equal(await vscode.commands.executeCommand('wsInspector.connect', wsUrl), undefined, 'Connect refuses it');
      assert.equal(api.session.outgoingConnections().length, before, 'no connection was attempted');
    } finally {
      await config().update('endpoints', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  it('a flood of rejections is logged as 20 lines and one count, not one line each', () => {
    const lines: string[] = [];
    // The window's timer is node:test's mock, and only within this synchronous block: no other code of the host runs
    // before reset(), so nothing else gets a mocked timer.
    mock.timers.enable({ apis: ['setTimeout'] });
    const warn = throttledWarn({ warn: (l: string) => void lines.push(l) }, 20, 200);
    try {
      for (let i = 0; i < 1000; i++) warn(`refused ${i}`);
      assert.equal(lines.length, 20);
      mock.timers.tick(199);
      assert.equal(lines.length, 20, 'the count waits for the end of the window');
      mock.timers.tick(1);
      assert.deepEqual(lines.slice(20), ['… and 980 more like these in the last 0.2 s (not logged one by one).']);
      warn('after the window');
      assert.equal(lines[21], 'after the window');
    } finally {
      warn.dispose();
      mock.timers.reset();
    }
  });
});
