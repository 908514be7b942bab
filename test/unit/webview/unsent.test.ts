// Frames written and never sent (issue 17): the rows the panel already holds when the connection's closed event
// arrives are marked, rows it fetches later come marked, and what the row, its tooltip and the detail say.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { EventStore } from '../../../src/core/capture/eventStore';
import { appendWholeFrameEvents } from '../../../src/core/capture/events';
import { recordSyntheticFrame } from '../../../src/core/capture/syntheticCapture';
import { encodeFrameHeader } from '../../../src/core/wire/frameEncoder';
import { toDto } from '../../../src/extension/inspectorPanelDto';
import type { ConnectionEventDto, EventDto, FrameDto, MessageDto } from '../../../src/shared/protocol';
import { ViewStore } from '../../../webview/store';
import { NEVER_SENT_TITLE, unsentClass, unsentDetail, unsentMark, unsentShort, unsentSummary } from '../../../webview/unsent';

const labels: Record<string, string> = { c1: '127.0.0.1:50001', c2: '127.0.0.1:50002' };
const label = (id: string) => labels[id] ?? id;

/**
 * The host's history: c1 got "sent"; "never left" to c1 and a broadcast "to both" (c1 and c2) were written and
 * never left for c1, whose closed event comes last. Returns the ids.
 */
function history(store: EventStore) {
  const sent = recordSyntheticFrame(store, { connectionId: 'c1', direction: 's2c', opcode: 1, payload: Buffer.from('sent') });
  const lost = recordSyntheticFrame(store, { connectionId: 'c1', direction: 's2c', opcode: 1, payload: Buffer.from('never left') });
  const payload = Buffer.from('to both');
  const both = appendWholeFrameEvents(store, 'c1', 1, 's2c', 1, encodeFrameHeader({ opcode: 1, payload }), payload, ['c2']);
  const ids = { sent: sent.frameId, lost: lost.frameId, lostMessage: lost.messageId!, both, bothMessage: both + 1 };
  const close = () =>
    store.append({
      kind: 'connection', connectionId: 'c1', time: 2, state: 'closed', role: 'server', clean: false, missingClose: 'both',
      closeFrames: { sent: { code: 1000, reason: 'bye', unsent: true } }, bytesIn: 300, bytesOut: 120,
      unsent: { bytes: 12 + 9, frameIds: [ids.lost, ids.both], messageIds: [ids.lostMessage, ids.bothMessage] },
    });
  return { ids, close };
}

/** What the host posts: DTOs, cloned as postMessage clones them. */
const posted = (store: EventStore, afterId = 0): EventDto[] => structuredClone(store.query({ afterId, limit: 1000 }).events.map(toDto));
const unsentOf = (view: ViewStore, id: number) => (view.get(id) as FrameDto | MessageDto).unsentTo;

describe('ViewStore: frames that never left', () => {
  test('rows held before the close are marked when its event arrives, as the host gives them after it', () => {
    const host = new EventStore();
    try {
      const { ids, close } = history(host);
      const view = new ViewStore();
      view.reset({ events: posted(host), hasMore: false, resumeId: 0 });
      const lastId = host.stats().lastId;
      const rowsBefore = view.rows().map((r) => r.id);
      assert.equal(unsentOf(view, ids.lost), undefined, 'not marked while the connection is open');

      close();
      assert.equal(view.addLive(posted(host, lastId)), true);
      assert.equal(unsentOf(view, ids.sent), undefined, 'the frame that left is not marked');
      assert.deepEqual(unsentOf(view, ids.lost), ['c1']);
      assert.deepEqual(unsentOf(view, ids.lostMessage), ['c1'], 'its message too');
      assert.deepEqual(unsentOf(view, ids.both), ['c1']);
      assert.deepEqual(view.rows().map((r) => r.id).slice(0, rowsBefore.length), rowsBefore, 'the same rows, marked in place');

      // What a page fetched now carries from the host is what the held rows say.
      const fresh = new ViewStore();
      fresh.reset({ events: posted(host), hasMore: false, resumeId: 0 });
      for (const id of Object.values(ids)) assert.deepEqual(unsentOf(fresh, id), unsentOf(view, id), `event #${id}`);
      assert.deepEqual(unsentOf(fresh, ids.lost), ['c1'], 'marked once, though the page holds the closed event too');
    } finally {
      host.dispose();
    }
  });

  test('the rows say it: greyed and "not sent" for c1, "not sent to 1 of 2" for the broadcast the other got', () => {
    const host = new EventStore();
    try {
      const { ids, close } = history(host);
      close();
      const view = new ViewStore();
      view.reset({ events: posted(host), hasMore: false, resumeId: 0 });
      const row = (id: number, picked?: string) => unsentMark(view.get(id) as FrameDto, picked, label);

      assert.equal(row(ids.sent), undefined);
      assert.deepEqual(row(ids.lost), { greyed: true, mark: 'not sent · ', title: NEVER_SENT_TITLE });
      assert.equal(NEVER_SENT_TITLE, 'Never sent: the connection closed before these bytes left (reset by the peer or destroyed)');
      assert.equal(unsentClass(row(ids.lost)), ' k-unsent');

      const all = row(ids.both)!;
      assert.equal(all.greyed, false, 'all connections in view: c2 got the broadcast');
      assert.equal(all.mark, 'not sent to 1 of 2 · ');
      assert.equal(all.title, 'Never sent to 127.0.0.1:50001, 1 of the 2 connections this broadcast was written to: it closed before these bytes left (reset by the peer or destroyed)');
      assert.equal(unsentClass(all), ' k-unsent-partial');
      assert.deepEqual([row(ids.both, 'c1')?.greyed, row(ids.both, 'c1')?.mark], [true, 'not sent · '], 'c1 in view: greyed');
      assert.equal(row(ids.both, 'c2')?.greyed, false, 'c2 in view: it got it');

      assert.equal(unsentDetail(view.get(ids.lost) as FrameDto, label), 'to 127.0.0.1:50001: the connection closed before these bytes left (reset by the peer or destroyed)');
      assert.equal(unsentDetail(view.get(ids.both) as FrameDto, label), 'to 1 of 2 connections (127.0.0.1:50001): the connection closed before these bytes left (reset by the peer or destroyed)');
      assert.equal(unsentDetail(view.get(ids.sent) as FrameDto, label), undefined);
      assert.deepEqual([ids.lost, ids.both, ids.sent].map((id) => unsentShort(view.get(id) as FrameDto)), ['not sent', 'not sent to 1 of 2', undefined], 'the detail summary');
    } finally {
      host.dispose();
    }
  });

  test('the closed connection says what it never sent', () => {
    const host = new EventStore();
    try {
      history(host).close();
      const closed = posted(host).find((e) => e.kind === 'connection') as ConnectionEventDto;
      assert.equal(unsentSummary(closed), '21 bytes, 2 frames');
      assert.equal(unsentSummary({ ...closed, unsent: { bytes: 4 * 1024 * 1024, frameIds: [1], messageIds: [2] } }), '4,194,304 bytes (4.0 MB), 1 frame');
      assert.equal(unsentSummary({ ...closed, unsent: undefined }), undefined);
    } finally {
      host.dispose();
    }
  });

  test('a label is one line and many connections are counted, not listed', () => {
    const e = { unsentTo: ['a', 'b', 'c', 'd', 'e'], alsoSentToCount: 9 };
    const mark = unsentMark(e, undefined, (id) => (id === 'a' ? 'evil\nlabel' : id))!;
    assert.match(mark.title, /^Never sent to evil↵label, b, c and 2 more, 5 of the 10 connections/);
    assert.equal(unsentMark({ unsentTo: ['p1-3/program'] }, 'p1-3', label)?.greyed, true, 'a proxied leg, its group in view');
  });
});
