// A cloned repository's .vscode/settings.json cannot weaken the server, send its traffic elsewhere, trust
// certificates or release secrets: the real workspace settings file, read by the real extension host.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/extension/extension';
import { PROTECTED_SETTINGS } from '../../src/extension/protectedSettings';
import { readIncludeSecrets, readProxySettings, readScaleSettings, readServerSettings } from '../../src/extension/settings';
import { activateExtension, waitFor } from './waitFor';

/** What a hostile repository would commit: every protected setting, flat and as nested objects. */
const HOSTILE_WORKSPACE_SETTINGS = `{
  // a comment, as settings files have
  "wsInspector.server.host": "0.0.0.0",
  "wsInspector.server.allowRemote": true,
  "wsInspector.server.auth.enabled": false,
  "wsInspector.server.auth.accept": ["query"],
  "wsInspector.server.auth.jwt.algorithms": ["HS256"],
  "wsInspector.server.auth.jwt.publicKeyFile": "/tmp/evil.pem",
  "wsInspector.server.auth.jwt.issuer": "evil",
  "wsInspector.server.auth.jwt.audience": "evil",
  "wsInspector.server.allowedOrigins": ["http://evil.test"],
  "wsInspector.scale.redisUrl": "redis://evil.test:6379",
  "wsInspector.proxy.allowSelfSigned": true,
  "wsInspector.proxy.caFile": "/tmp/evil-ca.pem",
  "wsInspector": { "export": { "includeSecrets": true } },
  "wsInspector.server.port": 0,
}`;

describe('Protected settings: a workspace cannot change them', function () {
  let api: ExtensionApi;
  const config = () => vscode.workspace.getConfiguration('wsInspector');
  let settingsFile: string;

  before(async () => {
    api = await activateExtension();
    await vscode.commands.executeCommand('wsInspector.stopServer');
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'the suite runs with a folder open');
    settingsFile = path.join(folder.uri.fsPath, '.vscode', 'settings.json');
  });

  after(async () => {
    await vscode.commands.executeCommand('wsInspector.stopServer');
    await fs.rm(settingsFile, { force: true });
    await config().update('server.auth.enabled', undefined, vscode.ConfigurationTarget.Global);
    await config().update('server.port', undefined, vscode.ConfigurationTarget.Global);
  });

  it('each protected setting is machine-scoped in package.json', () => {
    const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'websocket-inspector')!;
    const props = ext.packageJSON.contributes.configuration.properties as Record<string, { scope?: string }>;
    for (const key of PROTECTED_SETTINGS) assert.equal(props[`wsInspector.${key}`]?.scope, 'machine', key);
  });

  it('none of a workspace settings file\'s protected values takes effect, and the user is told once', async () => {
    await config().update('server.auth.enabled', true, vscode.ConfigurationTarget.Global);
    await fs.mkdir(path.dirname(settingsFile), { recursive: true });
    await fs.writeFile(settingsFile, HOSTILE_WORKSPACE_SETTINGS);
    // The unprotected port does come from the workspace: the file is read.
    await waitFor('the workspace settings file to be read', () => config().get('server.port') === 0);

    const server = readServerSettings();
    assert.equal(server.host, '127.0.0.1');
    assert.equal(server.security.allowRemote, false);
    assert.equal(server.security.auth.enabled, true, 'the user turned auth on; the workspace cannot turn it off');
    assert.deepEqual(server.security.auth.accept, ['header', 'query', 'subprotocol']);
    assert.deepEqual(server.security.auth.jwtAlgorithms, []);
    assert.equal(server.security.auth.jwtPublicKeyFile, undefined);
    assert.deepEqual(server.security.allowedOrigins, []);
    assert.equal(readScaleSettings().redisUrl, '');
    assert.equal(readIncludeSecrets(), false);
    const proxy = readProxySettings();
    assert.equal(proxy.allowSelfSigned, false);
    assert.equal(proxy.caFile, undefined);

    // The running server: bound to loopback, auth on.
    await vscode.commands.executeCommand('wsInspector.startServer');
    const address = await waitFor('the server to listen', () => api.session.serverAddress);
    assert.match(address.url, /^ws:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(api.session.serverProtection?.auth, true);

    const reported = await api.protectedSettings.check();
    assert.deepEqual(reported, [...PROTECTED_SETTINGS].map((k) => `wsInspector.${k}`).sort());
    const told = api.notifications().filter((n) => n.message.includes('This workspace\'s settings tried to set'));
    assert.equal(told.length, 1, 'told once');
    for (const key of reported) assert.ok(told[0].message.includes(key), `the message names ${key}`);
    // Checking again (a file save) does not tell again.
    await api.protectedSettings.check();
    assert.equal(api.notifications().filter((n) => n.message.includes('This workspace\'s settings tried to set')).length, 1);
  });
});
