// Text from outside in VS Code's own notifications, in a real extension host: a server's status line, a Redis
// server's error and a launch configuration's name are shown literally and readably, with no link VS Code would
// render (its notifications run `[label](command:…)` links) and with bidi controls as visible markers.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/extension/extension';
import type { ShownNotification } from '../../src/extension/notify';
import { uiText, untrusted } from '../../src/extension/uiText';
import { activateExtension, waitFor } from './waitFor';

/** How VS Code finds links in a notification's message (src/vs/base/common/linkedText.ts). */
// eslint-disable-next-line no-useless-escape -- verbatim from VS Code
const LINK = /\[([^\]]+)\]\(((?:https?:\/\/|command:|file:)[^\)\s]+)(?: (["'])(.+?)(\3))?\)/gi;
const linksIn = (s: string): string[] => [...s.matchAll(LINK)].map((m) => m[0]);
/** A command link that would type into the terminal. */
const PWNED = 'command:workbench.action.terminal.sendSequence?%7B%22text%22%3A%22echo%20pwned%5Cn%22%7D';

/** A TCP server on 127.0.0.1, port 0, that hands each connection to `handle`. */
async function rawServer(handle: (socket: net.Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    handle(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answers every RESP command with `reply`; commands are counted by parsing the RESP arrays that clients send. */
function fakeRedis(reply: string): (socket: net.Socket) => void {
  return (socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = commandEnd(buf);
        if (end === undefined) break;
        buf = buf.subarray(end);
        socket.write(reply);
      }
    });
  };
}

/** Where the first complete RESP command (`*N` then N bulk strings) in `b` ends, or undefined when it is not all there. */
function commandEnd(b: Buffer): number | undefined {
  const line = (at: number): [string, number] | undefined => {
    const i = b.indexOf('\r\n', at);
    return i < 0 ? undefined : [b.toString('latin1', at, i), i + 2];
  };
  const head = line(0);
  if (!head) return undefined;
  let off = head[1];
  for (let n = Number(head[0].slice(1)); n > 0; n--) {
    const len = line(off);
    if (!len) return undefined;
    off = len[1] + Number(len[0].slice(1)) + 2;
    if (off > b.length) return undefined;
  }
  return off;
}

describe('Untrusted text in VS Code notifications', function () {
  this.timeout(60_000);
  let api: ExtensionApi;
  const config = () => vscode.workspace.getConfiguration('wsInspector');
  const shown = (marker: string) => waitFor(`a notification with "${marker}"`, () => api.notifications().find((n) => n.message.includes(marker)));
  /** What the user must be able to read, and what must not be there. */
  const assertInert = (n: ShownNotification, literal: string[]) => {
    for (const text of literal) assert.ok(n.message.includes(text), `the message shows ${JSON.stringify(text)} literally: ${n.message}`);
    assert.deepEqual(linksIn(n.message), [], `VS Code finds no link in: ${n.message}`);
    assert.doesNotMatch(n.message, /[\u202a-\u202e\u2066-\u2069\r\n]/, 'no raw bidi control or line break');
  };

  before(async () => {
    api = await activateExtension();
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('notifications.clearAll');
  });

  it('uiText and untrusted break links and icons, also across the seam of a literal and a value', () => {
    assert.equal(untrusted(`[x](${PWNED})`), `[x] (${PWNED})`);
    assert.equal(untrusted('$(zap) a\u202Eb\r\nc\rd'), '$ (zap) a⟨U+202E⟩b↵c␍d');
    assert.equal(uiText`rules[${0}]${'(command:x)'}`, 'rules[0] (command:x)');
    assert.equal(uiText`$(error) ${'$'}${'(zap)'}`, '$(error) $ (zap)');
    assert.equal(uiText`${'[a'}]${'(command:x)'}`, '[a] (command:x)');
  });

  it('Connect to Endpoint: a 401 whose status line and body carry command links is shown as text', async () => {
    const body = `[Click here](${PWNED})`;
    const server = await rawServer((s) =>
      s.once('data', () =>
        s.end(
          Buffer.from(
            `HTTP/1.1 401 [Show details](${PWNED}) user\u202Egnp.exe\u202C admin\r\nContent-Type: text/markdown\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
          ),
        ),
      ),
    );
    try {
      const url = `ws://127.0.0.1:${server.port}/hostile`;
      // The command waits for the notification to be dismissed.
      const connecting = vscode.commands.executeCommand('wsInspector.connect', url);
      const n = await shown(`Could not connect to ${url}`);
      assert.equal(n.severity, 'error');
      assertInert(n, ['401 [Show details]', PWNED, 'user⟨U+202E⟩gnp.exe⟨U+202C⟩ admin']);
      assert.ok(!n.message.includes('Click here'), 'the body is not in the notification');
      await vscode.commands.executeCommand('notifications.clearAll');
      assert.equal(await connecting, undefined, 'no connection');
    } finally {
      await server.close();
    }
  });

  it('the Redis backplane: an error reply with a command link is shown as text in the warning', async () => {
    const redis = await rawServer(fakeRedis(`-ERR [Retry now](${PWNED}) \u202Eslow\r\n`));
    await vscode.commands.executeCommand('wsInspector.stopServer');
    try {
      await config().update('server.port', 0, vscode.ConfigurationTarget.Global);
      await config().update('scale.redisUrl', `redis://127.0.0.1:${redis.port}`, vscode.ConfigurationTarget.Global);
      await config().update('scale.channel', 'wsi-untrusted', vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('wsInspector.startServer');
      const n = await shown('The server runs without the Redis backplane');
      assert.equal(n.severity, 'warning');
      assertInert(n, ['[Retry now]', PWNED, '⟨U+202E⟩slow']);
      assert.equal(api.session.backplaneState, undefined, 'the server runs alone');
    } finally {
      await vscode.commands.executeCommand('wsInspector.stopServer');
      for (const k of ['server.port', 'scale.redisUrl', 'scale.channel']) await config().update(k, undefined, vscode.ConfigurationTarget.Global);
      await redis.close();
    }
  });

  it('a launch configuration whose name carries a command link: the debug error shows the name as text', async () => {
    const name = `api [Open terminal](${PWNED}) \u202Etset`;
    const ok = await vscode.debug.startDebugging(undefined, {
      type: 'node',
      request: 'launch',
      name,
      program: '/nonexistent/never-started.js',
      wsInspector: { proxy: { target: 'http://not-a-websocket' }, [`[x](${PWNED})`]: true },
    });
    assert.equal(ok, false, 'the launch is refused');
    const n = await shown('Debug configuration "api');
    assert.equal(n.severity, 'error');
    assertInert(n, ['[Open terminal]', PWNED, '⟨U+202E⟩tset']);
  });
});
