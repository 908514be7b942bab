// The Python chat room (test/support/websocketsChat.py, on Debian's python3-websockets) as a child process on a free
// loopback port. Like pythonWebsockets.ts, it fails rather than skips when Python or the package is missing.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PYTHON } from './pythonWebsockets';
import { waitFor } from './waitFor';

export interface PythonChat {
  url: string;
  stop(): Promise<void>;
}

export async function startPythonChat(): Promise<PythonChat> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run scripts/setup.sh (it installs python3-websockets)`);
  // Beside this file in the sources; the bundled test runs from out/, so look in test/support too.
  const beside = join(__dirname, 'websocketsChat.py');
  const script = existsSync(beside) ? beside : join(process.cwd(), 'test', 'support', 'websocketsChat.py');
  const proc = spawn(PYTHON, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let port: number | undefined;
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  createInterface({ input: proc.stdout! }).on('line', (line) => (port ??= (JSON.parse(line) as { listening?: number }).listening));
  const stop = () => kill(proc);
  try {
    await waitFor('the Python chat server to listen', () => {
      if (proc.exitCode !== null) throw new Error(`python3 exited with ${proc.exitCode}: ${stderr.trim()}`);
      return port;
    }, 15_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `ws://127.0.0.1:${port}`, stop };
}

async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGKILL');
  await exited;
}
