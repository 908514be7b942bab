// Starts code-server offline in an isolated run folder (nothing written to ~), on a free loopback port.
// Used by `npm start`, the extension-host test runner and the E2E tests.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

// import.meta.url is missing where a test bundles this file as CommonJS; those run from the repository's root.
const root = import.meta.url ? resolve(new URL('..', import.meta.url).pathname) : process.cwd();
export const codeServerBin = join(root, 'node_modules', 'code-server', 'out', 'node', 'entry.js');

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/**
 * Writes code-server's user settings: offline, quiet defaults and `settings` over them. With `keepExisting`, a file that
 * is already there is not touched, and false is returned.
 * @param {string} file
 * @param {object | undefined} settings
 * @param {{ keepExisting: boolean }} o
 */
export function writeUserSettings(file, settings, o) {
  if (o.keepExisting && existsSync(file)) return false;
  writeFileSync(
    file,
    JSON.stringify(
      {
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'extensions.ignoreRecommendations': true,
        'workbench.startupEditor': 'none',
        'security.workspace.trust.enabled': false,
        'workbench.tips.enabled': false,
        ...settings,
      },
      null,
      2,
    ),
  );
  return true;
}

/**
 * `keepSettings`: a settings file already in the run folder is the user's and is left as it is (`npm start`); tests
 * leave it out, and get a fresh file every start.
 * @param {{ runDir: string, port?: number, extensionsDir?: string, installVsix?: string, settings?: object, keepSettings?: boolean, log?: (line: string) => void }} o
 * @returns {Promise<{ url: string, port: number, runDir: string, stop: () => Promise<void>, child: import('node:child_process').ChildProcess }>}
 */
export async function startCodeServer(o) {
  const runDir = resolve(o.runDir);
  const port = o.port ?? (await freePort());
  const ud = join(runDir, 'ud');
  const exts = o.extensionsDir ?? join(runDir, 'exts');
  mkdirSync(join(ud, 'User'), { recursive: true });
  mkdirSync(exts, { recursive: true });
  writeUserSettings(join(ud, 'User', 'settings.json'), o.settings, { keepExisting: o.keepSettings === true });
  const env = {
    ...process.env,
    EXTENSIONS_GALLERY: '{}',
    XDG_CONFIG_HOME: join(runDir, 'xdg', 'config'),
    XDG_DATA_HOME: join(runDir, 'xdg', 'data'),
    XDG_CACHE_HOME: join(runDir, 'xdg', 'cache'),
  };
  const common = ['--user-data-dir', ud, '--extensions-dir', exts];
  if (o.installVsix) {
    await new Promise((res, rej) => {
      const c = spawn(process.execPath, [codeServerBin, ...common, '--install-extension', o.installVsix], { env, stdio: 'pipe' });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (out += d));
      c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`--install-extension failed (${code}): ${out}`))));
    });
  }
  const args = [
    codeServerBin,
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    ...common,
  ];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = o.log ?? (() => {});
  await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('code-server did not start within 60 s')), 60_000);
    const onLine = (d) => {
      const s = String(d);
      for (const line of s.split('\n')) if (line.trim()) log(line);
      if (s.includes('HTTP server listening')) {
        clearTimeout(timer);
        res();
      }
    };
    child.stdout.on('data', onLine);
    child.stderr.on('data', onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`code-server exited early with ${code}`));
    });
  });
  const stop = () =>
    new Promise((res) => {
      if (child.exitCode !== null || child.signalCode !== null) return res();
      child.once('exit', () => res());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  return { url: `http://127.0.0.1:${port}`, port, runDir, stop, child };
}
