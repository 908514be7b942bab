// src/shared/requests.ts: the request/reply pairing both sides of the panel use.
import { afterEach, describe, mock, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Requester, StaleRequestError, answer, isStale } from '../../../src/shared/requests';
import { isWebviewToHost, type HostReply, type WebviewRequest } from '../../../src/shared/protocol';

/** A requester whose posts are kept, and a host that answers them through `answer`. */
function channel(timeoutMs?: number) {
  const sent: WebviewRequest[] = [];
  const requester = new Requester((req) => sent.push(req), { timeoutMs });
  const replies: HostReply[] = [];
  const reply = async (req: WebviewRequest, handle: (r: WebviewRequest) => unknown) => {
    await answer(req, handle as never, (r) => replies.push(r));
    return replies[replies.length - 1];
  };
  return { sent, requester, replies, reply };
}

describe('Requester and answer', () => {
  afterEach(() => mock.timers.reset());

  test('numbers requests and pairs each reply by inReplyTo, in any order', async () => {
    const { sent, requester, reply } = channel();
    const a = requester.request('getDetail', { id: 7 });
    const b = requester.request('getHandshake', { connectionId: 'c1' });
    assert.deepEqual(sent, [
      { type: 'getDetail', requestId: 1, id: 7 },
      { type: 'getHandshake', requestId: 2, connectionId: 'c1' },
    ]);
    assert.ok(sent.every(isWebviewToHost));
    assert.equal(requester.handleReply(await reply(sent[1], () => null)), true);
    assert.equal(requester.handleReply(await reply(sent[0], () => null)), true);
    assert.equal(await a, null);
    assert.equal(await b, null);
    assert.equal(requester.size, 0);
  });

  test("the host's error, thrown or rejected, fails the request with its message", async () => {
    const { sent, requester, reply } = channel();
    const a = requester.request('disconnect', { connectionId: 'x' });
    const b = requester.request('send', { target: { kind: 'allClients' }, payload: { kind: 'text', text: 'hi' } });
    const ra = await reply(sent[0], () => {
      throw new Error('No such connection.');
    });
    assert.deepEqual(ra, { type: 'reply', request: 'disconnect', inReplyTo: 1, ok: false, error: 'No such connection.' });
    requester.handleReply(ra);
    requester.handleReply(await reply(sent[1], () => Promise.reject(new Error('Not running.'))));
    await assert.rejects(a, { message: 'No such connection.' });
    await assert.rejects(b, { message: 'Not running.' });
  });

  test('a reply nothing waits for is dropped: unknown id, or a reply of another request type', async () => {
    const { requester } = channel();
    const p = requester.request('getDetail', { id: 1 });
    assert.equal(requester.handleReply({ type: 'reply', request: 'getDetail', inReplyTo: 99, ok: true, result: null }), false);
    assert.equal(requester.handleReply({ type: 'reply', request: 'disconnect', inReplyTo: 1, ok: true, result: null }), false);
    assert.equal(requester.size, 1);
    assert.equal(requester.handleReply({ type: 'reply', request: 'getDetail', inReplyTo: 1, ok: true, result: null }), true);
    assert.equal(await p, null);
  });

  test('a request that supersedes its lane makes the earlier ones stale; other lanes are untouched', async () => {
    const { sent, requester, reply } = channel();
    const old = requester.request('subscribe', { filter: {}, floorId: 0, limit: 10 }, { lane: 'view', supersedes: true });
    const page = requester.request('getPage', { filter: {}, beforeId: 5, floorId: 0, limit: 10 }, { lane: 'view' });
    const detail = requester.request('getDetail', { id: 3 }, { lane: 'detail', supersedes: true });
    const fresh = requester.request('subscribe', { filter: { search: 'x' }, floorId: 0, limit: 10 }, { lane: 'view', supersedes: true });
    await assert.rejects(old, (err) => isStale(err) && err instanceof StaleRequestError);
    await assert.rejects(page, StaleRequestError);
    const empty = { events: [], hasMore: false, resumeId: 0 };
    assert.equal(requester.handleReply(await reply(sent[0], () => ({ ...empty, lastId: 0 }))), false, 'the stale reply is dropped');
    assert.equal(requester.handleReply(await reply(sent[3], () => ({ ...empty, lastId: 9 }))), true);
    assert.equal((await fresh).lastId, 9);
    assert.equal(requester.size, 1, 'the detail still waits');
    requester.handleReply(await reply(sent[2], () => null));
    assert.equal(await detail, null);
  });

  test('a request without a reply fails after its timeout, and the late reply is dropped', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const { sent, requester, reply } = channel(1000);
    const p = requester.request('getDetail', { id: 1 });
    const q = requester.request('getDetail', { id: 2 }, { timeoutMs: 5000 });
    mock.timers.tick(1000);
    await assert.rejects(p, { message: 'No answer from the extension to getDetail after 1 s.' });
    assert.equal(requester.size, 1);
    assert.equal(requester.handleReply(await reply(sent[0], () => null)), false);
    requester.handleReply(await reply(sent[1], () => null));
    assert.equal(await q, null, 'its own timeout is longer');
  });

  test('dispose makes every pending request stale; a post that throws fails its request', async () => {
    const { requester } = channel();
    const a = requester.request('getDetail', { id: 1 });
    requester.dispose();
    await assert.rejects(a, StaleRequestError);
    const broken = new Requester(() => {
      throw new DOMException('could not be cloned', 'DataCloneError');
    });
    await assert.rejects(broken.request('getDetail', { id: 1 }), /could not be cloned/);
    assert.equal(broken.size, 0);
  });
});
