// The mocha suite that runs inside a real VS Code extension host (code-server here, Electron elsewhere).
import Mocha from 'mocha';

export function run(): Promise<void> {
  // WSI_TEST_GREP runs only the tests whose title matches (for working on one suite).
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 30_000, reporter: 'spec', grep: process.env.WSI_TEST_GREP || undefined });
  // The bundle holds the test files; define mocha's globals, then load them (esbuild keeps require() lazy).
  mocha.suite.emit('pre-require', globalThis, 'test/vscode', mocha);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after pre-require, on purpose
  require('./extension.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./security.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./hostile.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./debug.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./browser.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./backplane.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./cdpProxy.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./browserDebug.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./untrustedText.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./protectedSettings.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./settings.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./compression.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./scenarios.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./connect.test');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  require('./liveView.test');
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} tests failed.`)) : resolve()));
  });
}
