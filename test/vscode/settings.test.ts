// Settings as the running extension sees them: the defaults VS Code loaded from package.json are settingsTable.ts's,
// and a value out of bounds set while the extension runs is refused as it is at activation.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/extension/extension';
import { SETTINGS } from '../../src/extension/settingsTable';
import { activateExtension, waitFor } from './waitFor';

describe('Settings: one table of defaults and bounds', function () {
  let api: ExtensionApi;
  const config = () => vscode.workspace.getConfiguration('wsInspector');

  before(async () => {
    api = await activateExtension();
  });

  after(async () => {
    await config().update('breakpoints.timeout', undefined, vscode.ConfigurationTarget.Global);
  });

  it('VS Code has the same settings, with the same defaults, as settingsTable.ts', () => {
    const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'websocket-inspector')!;
    const names = Object.keys(ext.packageJSON.contributes.configuration.properties).filter((k) => k.startsWith('wsInspector.'));
    assert.deepEqual(names.sort(), Object.keys(SETTINGS).map((k) => `wsInspector.${k}`).sort());
    for (const [key, spec] of Object.entries(SETTINGS)) assert.deepEqual(config().inspect(key)?.defaultValue, spec.default, key);
  });

  it('a breakpoints.timeout below its minimum, set while the extension runs, is refused and the default applies', async () => {
    const breakpoints = api.session.proxies.breakpoints;
    await config().update('breakpoints.timeout', 2000, vscode.ConfigurationTarget.Global);
    await waitFor('the valid timeout to apply', () => breakpoints.timeoutMs === 2000);

    const refusals = () => api.notifications().filter((n) => n.severity === 'warning' && n.message.includes('wsInspector.breakpoints.timeout'));
    const before = refusals().length;
    await config().update('breakpoints.timeout', 5, vscode.ConfigurationTarget.Global);
    const [warning] = await waitFor('the refusal to be shown', () => refusals().length > before && refusals().slice(-1));
    assert.match(warning.message, /expected a whole number from 1000 to 3600000, got 5\. .*Using the defaults\./);
    assert.equal(breakpoints.timeoutMs, SETTINGS['breakpoints.timeout'].default, 'held frames wait the default, not 5 ms');

    await config().update('breakpoints.timeout', 1000, vscode.ConfigurationTarget.Global);
    await waitFor('the minimum to apply', () => breakpoints.timeoutMs === 1000);
  });
});
