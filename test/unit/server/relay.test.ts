// Who receives a message a client sent, for each relay mode (src/core/server/relay.ts).
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { RelayMode } from '../../../src/core/server/relay';
import { waitFor } from '../../support/waitFor';
import { client, drained, runCleanups, startServer } from './helpers';

afterEach(runCleanups);

describe('relay modes', () => {
  const expectations: Record<RelayMode, [boolean, boolean, boolean]> = {
    broadcast: [true, true, true],
    broadcastOthers: [false, true, true],
    echo: [true, false, false],
    none: [false, false, false],
  };
  for (const [mode, expected] of Object.entries(expectations)) {
    test(`${mode} delivers to exactly the right clients`, async () => {
      const { server, address } = await startServer({ relay: mode as never });
      const clients = [await client(address.url), await client(address.url), await client(address.url)];
      await waitFor('3 clients connected', () => server.clients().length === 3);
      clients[0].ws.send(`hello ${mode}`);
      // Once the server has read the message it has relayed it (in the same turn); then nothing more is on its way.
      await waitFor('the server to read the message', () => server.clients()[0].messagesIn === 1);
      await drained(server, clients);
      for (const [i, c] of clients.entries()) {
        assert.deepEqual(c.texts(), expected[i] ? [`hello ${mode}`] : [], `client ${i}`);
      }
    });
  }
});
