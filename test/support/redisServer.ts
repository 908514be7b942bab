// A real redis-server for the backplane tests, on a free loopback port, in a temporary directory, without
// persistence. Nothing is mocked: the tests fail (not skip) when redis-server is missing.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './freePort';
import { waitFor } from './waitFor';

export const REDIS_SERVER = '/usr/bin/redis-server';
export const REDIS_CLI = '/usr/bin/redis-cli';

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` (with the password when one was asked for). */
  url: string;
  port: number;
  /** Kills the server (SIGKILL: Redis goes away as in a crash) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits until it answers PING. */
  restart(): Promise<void>;
  /** Runs redis-cli against this server and returns its output. */
  cli(...args: string[]): Promise<string>;
  /** Stops the server and removes its directory. */
  dispose(): Promise<void>;
}

export interface RedisServerOptions {
  /** Starts Redis with `--requirepass`. */
  password?: string;
}

function requireBinary(path: string): void {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: the backplane tests need a real Redis. Run scripts/setup.sh (it installs the redis-server package).`);
  }
}


/** One PING over a raw socket: true on `+PONG` (or `-NOAUTH`, which proves the server is up). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
  });
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  requireBinary(REDIS_SERVER);
  const dir = mkdtempSync(join(tmpdir(), 'wsi-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;

  const launch = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
    if (options.password !== undefined) args.push('--requirepass', options.password);
    const proc = spawn(REDIS_SERVER, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let output = '';
    proc.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    proc.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    let exited = false;
    proc.once('exit', () => (exited = true));
    proc.once('error', () => (exited = true));
    const answered = async () => {
      if (exited) throw new Error(`redis-server on port ${port} exited at start:\n${output}`);
      return ping(port);
    };
    await waitFor(() => `redis-server on port ${port} to answer PING:\n${output}`, answered, 5000).catch((err: unknown) => {
      proc.kill('SIGKILL');
      throw err;
    });
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await exited;
  };

  // Another process may take the free port between the probe and the bind: try a few ports.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      await stop();
      if (attempt === 2) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  const auth = options.password !== undefined ? `:${encodeURIComponent(options.password)}@` : '';
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    cli: (...args: string[]) => {
      requireBinary(REDIS_CLI);
      const authArgs = options.password !== undefined ? ['--no-auth-warning', '-a', options.password] : [];
      return new Promise((resolve, reject) =>
        execFile(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...authArgs, ...args], { timeout: 10_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`redis-cli ${args.join(' ')} failed: ${stderr || err.message}`)) : resolve(stdout),
        ),
      );
    },
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
