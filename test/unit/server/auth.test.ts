import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import { WebSocket, type ClientOptions } from 'ws';
import { SignJWT } from 'jose';
import { BroadcastServer, type BroadcastServerOptions, type RejectEvent } from '../../../src/core/server/broadcastServer';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startServer(options: BroadcastServerOptions) {
  const server = new BroadcastServer();
  const rejects: RejectEvent[] = [];
  server.onDidReject((e) => rejects.push(e));
  const address = await server.start({ port: 0, heartbeatIntervalMs: 0, ...options });
  cleanups.push(() => server.stop());
  return { server, address, rejects };
}

/** Connects; resolves with the open socket or with the HTTP refusal (status and body). */
async function attempt(
  url: string,
  protocols: string[] = [],
  options: ClientOptions = {},
): Promise<{ ws: WebSocket; status?: number; body?: string; wwwAuthenticate?: string }> {
  const ws = new WebSocket(url, protocols, options);
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req: http.ClientRequest, res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ ws, status: res.statusCode, body, wwwAuthenticate: res.headers['www-authenticate'] }));
    });
    ws.once('error', reject);
  });
}

const TOKEN = crypto.randomBytes(24).toString('base64url');
const SECRET = 'hs256-test-secret-that-is-long-enough';
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicKeyPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();

async function hs256(claims: { exp?: number | string; iss?: string } = {}, secret = SECRET): Promise<string> {
  const jwt = new SignJWT({ sub: 'tester' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
  if (claims.iss !== undefined) jwt.setIssuer(claims.iss);
  return jwt.sign(new TextEncoder().encode(secret));
}

async function rs256(exp: number | string): Promise<string> {
  return new SignJWT({ sub: 'tester' }).setProtectedHeader({ alg: 'RS256' }).setIssuedAt().setExpirationTime(exp).sign(rsa.privateKey);
}

describe('auth: fixed tokens', () => {
  test('each location is accepted: header, query and subprotocol (the token is not echoed back)', async () => {
    const { server, address } = await startServer({ auth: { tokens: ['other', TOKEN] } });
    const viaHeader = await attempt(address.url, [], { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(viaHeader.status, undefined);
    const viaQuery = await attempt(`${address.url}?token=${encodeURIComponent(TOKEN)}`);
    assert.equal(viaQuery.status, undefined);
    const viaProtocol = await attempt(address.url, ['bearer', TOKEN]);
    assert.equal(viaProtocol.status, undefined);
    assert.equal(viaProtocol.ws.protocol, 'bearer');
    const withApp = await attempt(address.url, ['bearer', TOKEN, 'chat.v2']);
    assert.equal(withApp.ws.protocol, 'chat.v2');
    assert.equal(server.clients().length, 4);
    assert.ok(server.clients().every((c) => c.subprotocol !== TOKEN));
  });

  test('missing and wrong tokens get 401 with the reason in the body and an onDidReject event', async () => {
    const { server, address, rejects } = await startServer({ auth: { tokens: [TOKEN] } });
    const missing = await attempt(address.url);
    assert.equal(missing.status, 401);
    assert.equal(missing.body, '401 Unauthorized: token missing (accepted: header, query, subprotocol)\n');
    assert.equal(missing.wwwAuthenticate, 'Bearer');
    const wrong = await attempt(address.url, [], { headers: { Authorization: `Bearer ${TOKEN}x` } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body, '401 Unauthorized: invalid token\n');
    const wrongQuery = await attempt(`${address.url}?token=nope`);
    assert.equal(wrongQuery.status, 401);
    assert.deepEqual(
      rejects.map((r) => [r.status, r.code, r.remoteAddress]),
      [
        [401, 'ERR_AUTH_MISSING', '127.0.0.1'],
        [401, 'ERR_AUTH_INVALID', '127.0.0.1'],
        [401, 'ERR_AUTH_INVALID', '127.0.0.1'],
      ],
    );
    assert.ok(rejects.every((r) => /^c\d+$/.test(r.connectionId)));
    assert.equal(server.clients().length, 0);
  });

  test('a location not in accept is refused, even with the right token', async () => {
    const { address, rejects } = await startServer({ auth: { tokens: [TOKEN], accept: ['header'] } });
    const q = await attempt(`${address.url}?token=${TOKEN}`);
    assert.equal(q.status, 401);
    assert.equal(q.body, '401 Unauthorized: token in query is not accepted (accepted: header)\n');
    const p = await attempt(address.url, ['bearer', TOKEN]);
    assert.equal(p.status, 401);
    assert.match(p.body!, /token in subprotocol is not accepted/);
    assert.deepEqual(rejects.map((r) => r.code), ['ERR_AUTH_MISSING', 'ERR_AUTH_MISSING']);
    const h = await attempt(address.url, [], { headers: { Authorization: `bearer ${TOKEN}` } });
    assert.equal(h.status, undefined, 'the scheme is case-insensitive');
  });

  test('a token in an undocumented form gets 400 ERR_AUTH_MALFORMED naming the form, whatever accept says; without auth it connects', async () => {
    const { server, address, rejects } = await startServer({ auth: { tokens: [TOKEN], accept: ['header'] } });
    const semicolon = await attempt(`${address.url}?a=1;token=${TOKEN}`);
    assert.equal(semicolon.status, 400);
    assert.equal(semicolon.body, '400 Bad Request: a query with a token must separate parameters with "&" and have no "#" fragment\n');
    const twice = await attempt(`${address.url}?token=${TOKEN}&token=${TOKEN}`);
    assert.equal(twice.body, '400 Bad Request: token appears more than once in the query\n');
    const capital = await attempt(address.url, ['Bearer', TOKEN], { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(capital.body, '400 Bad Request: offer "bearer" once, in lower case\n');
    assert.deepEqual(rejects.map((r) => [r.status, r.code]), [[400, 'ERR_AUTH_MALFORMED'], [400, 'ERR_AUTH_MALFORMED'], [400, 'ERR_AUTH_MALFORMED']]);
    assert.ok(rejects.every((r) => !r.reason.includes(TOKEN)));
    assert.equal(server.clients().length, 0);

    const open = await startServer({});
    assert.equal((await attempt(`${open.address.url}?a=1;token=${TOKEN}`)).status, undefined);
  });
});

describe('auth: JWT', () => {
  test('HS256: valid accepted; expired, wrong secret, wrong issuer and alg=none refused with 401', async () => {
    const { address, rejects } = await startServer({
      auth: { jwt: { algorithms: ['HS256'], secret: SECRET, issuer: 'wsi' } },
    });
    const good = await attempt(address.url, [], { headers: { Authorization: `Bearer ${await hs256({ exp: '1h', iss: 'wsi' })}` } });
    assert.equal(good.status, undefined);
    const expired = await attempt(address.url, ['bearer', await hs256({ exp: Math.floor(Date.now() / 1000) - 60, iss: 'wsi' })]);
    assert.equal(expired.status, 401);
    assert.equal(expired.body, '401 Unauthorized: token expired\n');
    const forged = await attempt(`${address.url}?token=${await hs256({ exp: '1h', iss: 'wsi' }, 'another-secret-of-decent-size')}`);
    assert.equal(forged.body, '401 Unauthorized: invalid token\n');
    const wrongIss = await attempt(`${address.url}?token=${await hs256({ exp: '1h', iss: 'evil' })}`);
    assert.equal(wrongIss.body, '401 Unauthorized: invalid token (claim iss)\n');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x","iss":"wsi"}').toString('base64url')}.`;
    const unsigned = await attempt(`${address.url}?token=${none}`);
    assert.equal(unsigned.status, 401);
    assert.deepEqual(rejects.map((r) => r.code), ['ERR_AUTH_EXPIRED', 'ERR_AUTH_INVALID', 'ERR_AUTH_INVALID', 'ERR_AUTH_INVALID']);
  });

  test('RS256: valid accepted, expired refused; an HS256 token is refused when only RS256 is allowed', async () => {
    const { address, rejects } = await startServer({ auth: { jwt: { algorithms: ['RS256'], publicKeyPem } } });
    const good = await attempt(address.url, ['bearer', await rs256('5m')]);
    assert.equal(good.status, undefined);
    const expired = await attempt(address.url, [], {
      headers: { Authorization: `Bearer ${await rs256(Math.floor(Date.now() / 1000) - 1)}` },
    });
    assert.equal(expired.status, 401);
    assert.equal(expired.body, '401 Unauthorized: token expired\n');
    const hs = await attempt(address.url, ['bearer', await hs256({ exp: '1h' })]);
    assert.equal(hs.status, 401);
    assert.deepEqual(rejects.map((r) => r.code), ['ERR_AUTH_EXPIRED', 'ERR_AUTH_INVALID']);
  });

  test('fixed tokens and JWTs together: either is enough', async () => {
    const { server, address } = await startServer({ auth: { tokens: [TOKEN], jwt: { algorithms: ['HS256'], secret: SECRET } } });
    assert.equal((await attempt(`${address.url}?token=${TOKEN}`)).status, undefined);
    assert.equal((await attempt(`${address.url}?token=${await hs256({ exp: '1h' })}`)).status, undefined);
    assert.equal((await attempt(`${address.url}?token=neither`)).status, 401);
    assert.equal(server.clients().length, 2);
  });

  test('auth with maxClients: a refused request frees its slot', async () => {
    const { server, address } = await startServer({ auth: { tokens: [TOKEN] }, maxClients: 1 });
    for (let i = 0; i < 3; i++) assert.equal((await attempt(address.url)).status, 401);
    assert.equal((await attempt(`${address.url}?token=${TOKEN}`)).status, undefined);
    const full = await attempt(`${address.url}?token=${TOKEN}`);
    assert.equal(full.status, 503);
    assert.equal(full.body, '503 Service Unavailable: too many clients (maxClients is 1)\n');
    assert.equal(server.clients().length, 1);
  });
});

