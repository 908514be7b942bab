// A real Python `websockets` server (Debian's python3-websockets, run by /usr/bin/python3) on a free loopback port,
// as a child process: a target with another stack's defaults (deflate, keepalive pings). Nothing is mocked: the
// tests fail, not skip, when Python or the package is missing.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { waitFor } from './waitFor';

export const PYTHON = '/usr/bin/python3';
const SCRIPT = join(__dirname, 'websocketsServer.py');

/** One line the server printed (see websocketsServer.py). */
export interface PythonEvent {
  listening?: number;
  open?: string;
  extensions?: string | null;
  message?: string;
  binary?: string;
  close?: number | null;
  reason?: string | null;
}

export interface PythonWebsockets {
  url: string;
  port: number;
  proc: ChildProcess;
  /** Everything it printed, in order. */
  events: PythonEvent[];
  /** The text messages it received (and echoed). */
  messages(): string[];
  stop(): Promise<void>;
}

/** Starts the server; `pingInterval` in seconds (default: websockets' own, 20 s). */
export async function startPythonWebsockets(pingInterval?: number): Promise<PythonWebsockets> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run scripts/setup.sh (it installs python3-websockets)`);
  // The script sits beside this file in the sources; the bundled test runs from out/, so look in test/support too.
  const script = existsSync(SCRIPT) ? SCRIPT : join(process.cwd(), 'test', 'support', 'websocketsServer.py');
  const proc = spawn(PYTHON, [script, pingInterval === undefined ? 'default' : String(pingInterval)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: PythonEvent[] = [];
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  createInterface({ input: proc.stdout! }).on('line', (line) => events.push(JSON.parse(line) as PythonEvent));
  try {
    const port = await waitFor('the Python websockets server to listen', () => {
      if (proc.exitCode !== null) throw new Error(`python3 exited with ${proc.exitCode}: ${stderr.trim()} (is python3-websockets installed? scripts/setup.sh)`);
      return events.find((e) => e.listening !== undefined)?.listening;
    }, 15_000);
    return {
      url: `ws://127.0.0.1:${port}`,
      port,
      proc,
      events,
      messages: () => events.filter((e) => e.message !== undefined).map((e) => e.message!),
      stop: () => stop(proc),
    };
  } catch (e) {
    await stop(proc);
    throw e;
  }
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGKILL');
  await exited;
}
