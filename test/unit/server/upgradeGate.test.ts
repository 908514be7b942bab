// The upgrade gate's origin rules (src/core/server/upgradeGate.ts); the server's answers to real clients are in
// limits.test.ts ('origin allowlist') and, from a real browser, originBrowser.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isLocalOrigin, isOrigin, isOriginAllowed, normalizeOrigin } from '../../../src/core/server/upgradeGate';

describe('origins', () => {
  test('normalizeOrigin ignores case and a trailing slash', () => {
    assert.equal(normalizeOrigin('HTTPS://App.Example:8443/'), 'https://app.example:8443');
  });

  test('local origins are this machine and VS Code, matched exactly', () => {
    for (const o of [
      'http://localhost',
      'http://localhost:5173',
      'HTTPS://LocalHost:8443/',
      'https://127.0.0.1',
      'http://127.0.0.1:65535',
      'http://[::1]:3000',
      'vscode-webview://1ls9sbb2k1a3pfp5gq8hkl0b5an8gg4rpo93u7pfgf9trcb8ni6j',
      'vscode-webview://0c6f0a4e-5a55-4d8e-9f3b-2a1f0b7c9d10',
      'vscode-file://vscode-app',
    ]) {
      assert.equal(isLocalOrigin(o), true, o);
    }
    for (const o of [
      'http://evil.test',
      'http://localhost.evil.test',
      'http://127.0.0.1.evil.test',
      'http://evil.test.localhost.',
      'http://localhost@evil.test',
      'http://evil.test@localhost',
      'http://localhost:5173/path',
      'ws://localhost',
      'file://',
      'null',
      'http://127.0.0.2',
      'http://[::1].evil.test',
      'vscode-webview://x.evil.test',
      'vscode-file://vscode-app.evil.test',
      '',
    ]) {
      assert.equal(isLocalOrigin(o), false, o);
    }
  });

  test('isOriginAllowed adds the normalized allowlist; isOrigin validates its entries', () => {
    const allowed = new Set(['https://app.example', 'null']);
    assert.equal(isOriginAllowed('HTTPS://APP.example/', allowed), true);
    assert.equal(isOriginAllowed('null', allowed), true);
    assert.equal(isOriginAllowed('http://localhost:1', allowed), true);
    assert.equal(isOriginAllowed('https://app.example:444', allowed), false);
    assert.equal(isOriginAllowed('null', new Set()), false);
    for (const o of ['https://app.example', 'http://localhost:3000/', 'null', ' https://a.test ']) assert.equal(isOrigin(o), true, o);
    for (const o of ['', 'app.example', 'https://app.example/x', 'https://u@app.example', 'https://', 42]) assert.equal(isOrigin(o), false, String(o));
  });
});
