// For the extension-host tests: the extension acts on sockets and processes, so its state is awaited (through the
// one `waitFor` in test/support), not read at once.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/extension/extension';

export { sleep, waitFor } from '../support/waitFor';

/** Activates the installed extension and returns what it gives the tests. */
export async function activateExtension(): Promise<ExtensionApi> {
  const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'websocket-inspector');
  assert.ok(ext, 'the extension is installed');
  return (await ext.activate()) as ExtensionApi;
}
