// The rows the frames table shows, derived from the held events: a message of several frames is one group row, its
// fragments rows under it when expanded. Built whole, or patched in place as live appends and trims come (the store
// holds up to 50,000 events and appends 20 times a second). Pure logic, no DOM.
import type { EventDto, MessageDto } from '../src/shared/protocol';

export interface Row {
  id: number;
  /** 0 for top-level rows, 1 for fragments under an expanded message. */
  depth: 0 | 1;
  /** A message made of several frames: it can be expanded to show them. */
  group: boolean;
}

/** What the rows are derived from: the held events (ViewStore). */
export interface RowSource {
  get(id: number): EventDto | undefined;
  /** The held message a frame belongs to. */
  messageFor(frameId: number): MessageDto | undefined;
  isExpanded(messageId: number): boolean;
}

/** The rows of a run of held events, in order. */
export function rowsOf(src: RowSource, events: EventDto[]): Row[] {
  const rows: Row[] = [];
  for (const e of events) {
    if (e.kind === 'message') {
      if (e.frameIds.length > 1) pushGroup(src, rows, e);
      // A single-frame message is shown through its frame's row.
      continue;
    }
    if (e.kind === 'frame') {
      const m = src.messageFor(e.id);
      if (m && m.frameIds.length > 1) continue; // shown under its message
    }
    rows.push({ id: e.id, depth: 0, group: false });
  }
  return rows;
}

function pushGroup(src: RowSource, rows: Row[], m: MessageDto): void {
  rows.push({ id: m.id, depth: 0, group: true });
  if (src.isExpanded(m.id)) {
    for (const fid of m.frameIds) if (src.get(fid)) rows.push({ id: fid, depth: 1, group: false });
  }
}

/**
 * Appends the rows of `added` (just pushed after every held event) to `rows`. Returns false when the events are out
 * of the usual order (a frame after its own message) and only a rebuild gets them right.
 */
export function appendRows(src: RowSource, rows: Row[], added: EventDto[]): boolean {
  for (const e of added) {
    if (e.kind === 'message') {
      if (e.frameIds.length <= 1) continue;
      // Its fragments were shown as top-level rows until now: take them out (they sit near the end).
      removeFragments(src, rows, e);
      pushGroup(src, rows, e);
      continue;
    }
    if (e.kind === 'frame') {
      const m = src.messageFor(e.id);
      if (m && m.frameIds.length > 1) {
        if (m.id < e.id) return false;
        continue; // its message follows in this batch and shows it
      }
    }
    rows.push({ id: e.id, depth: 0, group: false });
  }
  return true;
}

function removeFragments(src: RowSource, rows: Row[], m: MessageDto): void {
  const frags = new Set<number>();
  let min = Infinity;
  for (const fid of m.frameIds) {
    if (fid < m.id && src.get(fid)) {
      frags.add(fid);
      if (fid < min) min = fid;
    }
  }
  if (frags.size === 0) return;
  let i = rows.length;
  // Top-level rows ascend by id; children of an expanded group (depth 1) sit between them.
  while (i > 0 && (rows[i - 1].depth === 1 || rows[i - 1].id >= min)) i--;
  let w = i;
  for (let r = i; r < rows.length; r++) {
    const row = rows[r];
    if (row.depth === 0 && frags.has(row.id)) continue;
    rows[w++] = row;
  }
  rows.length = w;
}

/**
 * Drops the leading rows of events trimmed below `firstId`; call it before the source forgets them. Returns false
 * when the trim changes rows further down (a fragment of a surviving message was dropped, or a message whose frames
 * survive), which needs a rebuild.
 */
export function trimRowsOldest(src: RowSource, rows: Row[], dropped: EventDto[], firstId: number): boolean {
  for (const e of dropped) {
    if (e.kind === 'frame') {
      const m = src.messageFor(e.id);
      // Hidden under a collapsed group: no row either way. Under an expanded one: its child row goes.
      if (m && m.id >= firstId && m.frameIds.length > 1 && src.isExpanded(m.id)) return false;
    } else if (e.kind === 'message' && e.frameIds.some((fid) => fid >= firstId && src.get(fid))) {
      return false;
    }
  }
  let k = 0;
  let inDroppedGroup = false;
  while (k < rows.length) {
    const r = rows[k];
    if (r.depth === 0) {
      if (r.id >= firstId) break;
      inDroppedGroup = r.group;
    } else if (!inDroppedGroup) {
      break;
    }
    k++;
  }
  rows.splice(0, k);
  return true;
}

/**
 * Drops the trailing rows of events trimmed from `cutId` up; call it before the source forgets them. Returns false
 * when the trim changes rows further up (a dropped message leaves fragments behind, which become top-level rows),
 * which needs a rebuild.
 */
export function trimRowsNewest(src: RowSource, rows: Row[], dropped: EventDto[], cutId: number): boolean {
  for (const e of dropped) {
    if (e.kind === 'message' && e.frameIds.length > 1 && e.frameIds.some((fid) => fid < cutId && src.get(fid))) return false;
  }
  // Top-level rows ascend by id; a group's children (lower ids) follow it. Children right after a kept row are its own.
  let i = rows.length;
  while (i > 0 && (rows[i - 1].depth === 1 || rows[i - 1].id >= cutId)) i--;
  while (i < rows.length && rows[i].depth === 1) i++;
  rows.length = i;
  return true;
}

/** Index of the row showing `id` (a fragment inside a collapsed group maps to its group), or -1. */
export function rowIndex(src: RowSource, rows: Row[], id: number): number {
  let target = id;
  const m = src.messageFor(id);
  if (m && m.frameIds.length > 1 && !src.isExpanded(m.id)) target = m.id;
  let lo = 0;
  let hi = rows.length - 1;
  // Rows are ascending by id except fragments inside an expanded group: scan near the binary search hit.
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid].id < target) lo = mid + 1;
    else hi = mid - 1;
  }
  for (let i = Math.max(0, lo - 64); i < Math.min(rows.length, lo + 64); i++) if (rows[i].id === target) return i;
  return rows.findIndex((r) => r.id === target);
}

/** Whether a frame of an older page belongs under an expanded group already shown (above `pageEnd`). */
export function inShownExpandedGroup(src: RowSource, frameId: number, pageEnd: number): boolean {
  const m = src.messageFor(frameId);
  return !!m && m.id > pageEnd && m.frameIds.length > 1 && src.isExpanded(m.id);
}
