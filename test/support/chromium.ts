// Starts Debian's Chromium headless with a DevTools port, for the tests that watch a real browser's WebSockets
// (unit tests of the DevTools inspector, and the extension-host suite). Killed by process group in the caller's
// clean-up, so its renderers go too.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitFor } from './waitFor';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export interface Chromium {
  proc: ChildProcess;
  /** The DevTools port. */
  port: number;
  /** ws://127.0.0.1:port/devtools/browser/… */
  wsUrl: string;
  dir: string;
}

/**
 * Launches Chromium on `url` (default about:blank), with `extraArgs` (e.g. `--host-resolver-rules=…`) after the
 * defaults; rejects when it is missing or does not listen within 30 s.
 */
export async function launchChromium(url = 'about:blank', extraArgs: readonly string[] = []): Promise<Chromium> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: run scripts/setup.sh (it installs the Debian chromium package)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsi-cdp-'));
  // Its own process group, so that killing it by pid also ends its renderers.
  const proc = spawn(
    CHROMIUM,
    ['--headless=new', '--no-sandbox', '--disable-gpu', '--remote-debugging-port=0', `--user-data-dir=${dir}`, ...extraArgs, url],
    { stdio: 'ignore', detached: true },
  );
  const file = path.join(dir, 'DevToolsActivePort');
  try {
    const text = await waitFor('Chromium to write DevToolsActivePort', () => {
      if (proc.exitCode !== null) throw new Error(`chromium exited with ${proc.exitCode} before it listened`);
      const t = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      return t.includes('\n') && t;
    }, 30_000);
    const [port, p] = text.split('\n');
    return { proc, port: Number(port), wsUrl: `ws://127.0.0.1:${port}${p}`, dir };
  } catch (e) {
    killChromium({ proc, dir, port: 0, wsUrl: '' });
    throw e;
  }
}

export function killChromium(b: Chromium): void {
  try {
    if (b.proc.pid !== undefined && b.proc.exitCode === null) process.kill(-b.proc.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  fs.rmSync(b.dir, { recursive: true, force: true, maxRetries: 3 });
}
