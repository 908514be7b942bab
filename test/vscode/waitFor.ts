// Polling for the extension-host tests: the extension acts on sockets and processes, so its state is awaited, not
// read at once.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/extension/extension';

/** Resolves with the first truthy value of `fn`, polled every 50 ms; rejects naming `what` after `timeoutMs`. */
export function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      const v = fn();
      if (v !== undefined && v !== false) return resolve(v);
      if (Date.now() - start > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}

/** Activates the installed extension and returns what it gives the tests. */
export async function activateExtension(): Promise<ExtensionApi> {
  const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'websocket-inspector');
  assert.ok(ext, 'the extension is installed');
  return (await ext.activate()) as ExtensionApi;
}
