// The Redis backplane in a real extension host, with a real redis-server: the server started by the command joins
// the channel from the settings; the panel's model shows the backplane as its own connection with the Redis state,
// and its traffic in and out.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import WebSocket from 'ws';
import type { MessageEvent } from '../../src/core/capture/events';
import type { ExtensionApi } from '../../src/extension/extension';
import { activateExtension, waitFor } from './waitFor';
import { startRedisServer, type RedisServer } from '../support/redisServer';


describe('Redis backplane from the settings', function () {
  this.timeout(90_000);
  let api: ExtensionApi;
  let redis: RedisServer;
  const config = () => vscode.workspace.getConfiguration('wsInspector');

  before(async () => {
    api = await activateExtension();
    await vscode.commands.executeCommand('wsInspector.stopServer');
    redis = await startRedisServer();
    await config().update('server.port', 0, vscode.ConfigurationTarget.Global);
    await config().update('scale.redisUrl', redis.url, vscode.ConfigurationTarget.Global);
    await config().update('scale.channel', 'wsi-ext-test', vscode.ConfigurationTarget.Global);
    await config().update('scale.envelope', 'bare', vscode.ConfigurationTarget.Global);
  });

  after(async () => {
    await vscode.commands.executeCommand('wsInspector.stopServer');
    for (const k of ['server.port', 'scale.redisUrl', 'scale.channel', 'scale.envelope']) await config().update(k, undefined, vscode.ConfigurationTarget.Global);
    await redis?.dispose();
  });

  it('joins on start, delivers what Redis publishes, publishes what it relays, and shows the Redis state', async () => {
    await vscode.commands.executeCommand('wsInspector.startServer');
    const url = api.session.serverAddress?.url;
    assert.ok(url, 'the server runs');
    const row = await waitFor('the backplane row, connected', () =>
      api.session.connections().find((c) => c.kind === 'backplane' && c.state === 'open'),
    );
    assert.match(row.label, /Redis backplane redis:\/\/127\.0\.0\.1:\d+ · wsi-ext-test/);
    assert.equal(api.session.servers()[0].backplane?.state, 'connected');

    const got: string[] = [];
    const client = await new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
    client.on('message', (d) => got.push(String(d)));
    try {
      // In: a message published by another program on the channel reaches the server's client.
      await redis.cli('PUBLISH', 'wsi-ext-test', 'from redis-cli');
      await waitFor('the published message at the client', () => got.includes('from redis-cli'));
      // Out: what the client sends is relayed locally and published on the channel.
      client.send('from the client');
      await waitFor('the relay', () => got.includes('from the client'));
      const onBackplane = (): MessageEvent[] =>
        api.session.store
          .query({ connectionId: row.id, kinds: ['message'], limit: 100, backward: true })
          .events.filter((e): e is MessageEvent => e.kind === 'message');
      await waitFor('both directions on the backplane connection', () => onBackplane().some((m) => m.direction === 'c2s'));
      const messages = onBackplane();
      assert.ok(messages.some((m) => m.direction === 's2c' && m.data.toString() === 'from redis-cli'), 'in: from Redis');
      assert.ok(messages.some((m) => m.direction === 'c2s' && m.data.toString() === 'from the client'), 'out: published');
    } finally {
      client.terminate();
    }

    // Redis goes away: local broadcast goes on, and the state says so.
    await redis.stop();
    await waitFor('the reconnecting state', () => api.session.connections().find((c) => c.kind === 'backplane' && c.state === 'reconnecting'));
    await redis.restart();
    await waitFor('connected again', () => api.session.connections().find((c) => c.kind === 'backplane' && c.state === 'open'));

    await vscode.commands.executeCommand('wsInspector.stopBackplane');
    assert.equal(api.session.connections().some((c) => c.kind === 'backplane'), false);
  });
});
