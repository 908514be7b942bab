// The virtualized frames table: only the rows in view (plus a few) exist in the DOM, reused as the user scrolls.
import { opcodeName, type ConnectionEventDto, type ConnectionRow, type EventDto, type FrameDto, type MessageDto } from '../../src/shared/protocol';
import { AFTER_VIOLATION_MARK, AFTER_VIOLATION_TITLE, closedPreview, formatBytes } from '../format';
import { frameFlags, frameFlagsLabel, frameLength, framePreview, messageLength, oneLine } from '../format';
import { nextAutoScroll, type Row, type ViewStore } from '../store';
import type { TimeMode } from '../timeBase';
import { el } from '../ui';
import { unsentClass, unsentMark, type UnsentMark } from '../unsent';
import { NewRowsButton, ScrollIntent } from './liveEnd';
import { Cell, setDir } from './tableCell';

const ROW_HEIGHT = 22;
/**
 * Rows rendered past each edge of the view, so that a small scroll (a wheel notch, an arrow key), which the
 * compositor shows before the next render, finds rows there. Every rendered row costs style, layout and paint in each
 * frame that refills it, so it is kept small.
 */
const OVERSCAN = 3;
/** Ask for an older (newer) page when the top (bottom) of the view is this many rows from the first (last) held row. */
const PAGE_AHEAD_ROWS = 40;

export interface FramesTableOptions {
  store: ViewStore;
  timeMode: () => TimeMode;
  connection: (id: string) => ConnectionRow | undefined;
  /** The connection the view shows; undefined for all, and then the rows name theirs. */
  picked: () => string | undefined;
  onSelect: (id: number, open: boolean) => void;
  onNeedOlder: () => void;
  /** The view nears the last held row while the store is detached from the live end. */
  onNeedNewer: () => void;
  onAutoScrollChange: (on: boolean) => void;
}

type Column = 'time' | 'dir' | 'conn' | 'op' | 'flags' | 'len' | 'preview';

/** A pooled row: its element, its cells and the row-level values last written. */
type Cells = Record<Column, Cell> & {
  row: HTMLElement;
  id?: number;
  cls?: string;
  index?: number;
  selected?: boolean;
  expanded?: boolean;
};

const COLUMNS: Array<[cls: Column, title: string]> = [
  ['time', 'Time'],
  ['dir', 'Dir'],
  ['conn', 'Connection'],
  ['op', 'Opcode'],
  ['flags', 'Flags'],
  ['len', 'Length'],
  ['preview', 'Data'],
];

export class FramesTable {
  readonly el: HTMLElement;
  private readonly viewport: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly body: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly timeHeader: HTMLElement;
  private readonly newRows = new NewRowsButton(() => this.follow());
  /** Only the user's scrolls may pause Auto-scroll. */
  private readonly intent: ScrollIntent;
  private readonly pool: Cells[] = [];
  private rows: Row[] = [];
  private selectedId: number | undefined;
  private autoScroll = true;
  private lastTop = 0;
  /** The viewport's scrollTop as last seen or set: reading it after a change would force a layout. */
  private top = 0;
  /** The viewport's clientHeight, kept by a ResizeObserver for the same reason. */
  private height = 0;
  private frame = 0;
  private programmaticScroll = false;
  /** The scroll position of the last render. */
  private renderedTop = 0;
  /**
   * The row at the top of the view and how far into it the view starts, as of the last scroll or render. Rows added
   * or dropped above it (older pages, trims of either end) move it: `update` scrolls it back under the user's eyes.
   */
  private anchor: { id: number; offset: number } | undefined;

  constructor(private readonly o: FramesTableOptions) {
    this.el = el('div', 'frames');
    const header = el('div', 'frames-header');
    header.setAttribute('role', 'row');
    const heads = COLUMNS.map(([cls, title]) => {
      const h = el('div', `cell ${cls}`, title);
      h.setAttribute('role', 'columnheader');
      return h;
    });
    header.append(...heads);
    this.timeHeader = heads[0];
    this.viewport = el('div', 'frames-viewport');
    this.viewport.tabIndex = 0;
    this.viewport.setAttribute('role', 'grid');
    this.viewport.setAttribute('aria-label', 'Frames');
    this.spacer = el('div', 'frames-spacer');
    this.body = el('div', 'frames-body');
    this.body.setAttribute('role', 'rowgroup');
    this.empty = el('div', 'frames-empty', 'No frames yet.');
    this.empty.setAttribute('role', 'status');
    this.spacer.appendChild(this.body);
    this.viewport.append(this.spacer);
    this.el.append(header, this.viewport, this.empty, this.newRows.el);
    this.intent = new ScrollIntent(this.viewport);

    this.viewport.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.viewport.addEventListener('keydown', (e) => this.onKey(e));
    this.body.addEventListener('click', (e) => {
      const rowEl = (e.target as HTMLElement).closest<HTMLElement>('.frow');
      if (!rowEl?.dataset.id) return;
      const id = Number(rowEl.dataset.id);
      const r = this.rows.find((x) => x.id === id);
      const toggle = (e.target as HTMLElement).closest('.twisty');
      if (r?.group && toggle) this.toggle(id);
      this.select(id, true);
      this.viewport.focus({ preventScroll: true });
    });
    this.body.addEventListener('dblclick', (e) => {
      const rowEl = (e.target as HTMLElement).closest<HTMLElement>('.frow');
      const id = Number(rowEl?.dataset.id);
      if (this.rows.find((x) => x.id === id)?.group) this.toggle(id);
    });
    new ResizeObserver(() => {
      this.height = this.viewport.clientHeight;
      this.schedule();
    }).observe(this.viewport);
  }

  /** What the empty list says (what is running, what to do next). */
  setEmptyText(text: string): void {
    if (this.empty.textContent !== text) this.empty.textContent = text;
  }

  /** Follows the live end again (End, the "N new" button). */
  private follow(): void {
    if (!this.autoScroll) {
      this.autoScroll = true;
      this.o.onAutoScrollChange(true);
    }
    this.viewport.focus({ preventScroll: true });
    this.schedule();
  }

  get autoScrolling(): boolean {
    return this.autoScroll;
  }

  setAutoScroll(on: boolean): void {
    if (!on && this.autoScroll) this.newRows.paused(this.rows);
    this.autoScroll = on;
    this.schedule();
  }

  /** The rows changed (new events, a page, a trim, a filter): re-render, keeping the row under the user's eyes in place. */
  update(): void {
    this.rows = this.o.store.rows();
    this.viewport.setAttribute('aria-rowcount', String(this.rows.length));
    this.spacer.style.height = `${this.rows.length * ROW_HEIGHT}px`;
    this.empty.hidden = this.rows.length > 0;
    if (!this.autoScroll && this.anchor) {
      const i = this.o.store.rowIndexOf(this.anchor.id);
      // Within the scroll range, as the browser clamps it (reading scrollTop back would force a layout).
      if (i >= 0) this.scrollTo(Math.max(0, Math.min(i * ROW_HEIGHT + this.anchor.offset, this.rows.length * ROW_HEIGHT - this.height)));
    }
    // Following the live end: render() scrolls, from the row count, in the next animation frame.
    this.schedule();
  }

  /** Whether the bottom of the view is near the last held row (a newer page is wanted while detached). */
  nearEnd(): boolean {
    return this.top + this.height >= (this.rows.length - PAGE_AHEAD_ROWS) * ROW_HEIGHT;
  }

  /** Re-render what is visible (time mode, connection names). */
  refresh(): void {
    this.schedule();
  }

  get selected(): number | undefined {
    return this.selectedId;
  }

  select(id: number | undefined, open: boolean): void {
    this.selectedId = id;
    if (id !== undefined) {
      this.viewport.setAttribute('aria-activedescendant', `frow-${id}`);
      this.o.onSelect(id, open);
    } else {
      this.viewport.removeAttribute('aria-activedescendant');
    }
    this.schedule();
  }

  focus(): void {
    this.viewport.focus();
  }

  private toggle(id: number): void {
    this.o.store.toggleExpanded(id);
    this.update();
  }

  /** Sets scrollTop unless it is already there (no scroll event would then clear the flag). */
  private scrollTo(top: number): void {
    if (top === this.top) return;
    this.programmaticScroll = true;
    this.viewport.scrollTop = top;
    this.top = top;
  }

  private setAnchor(top: number): void {
    const i = Math.floor(top / ROW_HEIGHT);
    const r = this.rows[i];
    this.anchor = r ? { id: r.id, offset: top - i * ROW_HEIGHT } : undefined;
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private onScroll(): void {
    const top = this.viewport.scrollTop;
    this.top = top;
    const maxTop = this.rows.length * ROW_HEIGHT - this.height;
    const store = this.o.store;
    if (!this.programmaticScroll) {
      // The last held row is not the live end while detached: reaching it asks for newer rows, not to follow.
      let next = nextAutoScroll(this.autoScroll, this.lastTop, top, maxTop) && !store.detached;
      // Only the user pauses it: a scroll the browser made (the view hidden, shown, resized) leaves it on.
      if (!next && this.autoScroll && !this.intent.active) next = true;
      if (next !== this.autoScroll) {
        if (!next) this.newRows.paused(this.rows);
        this.autoScroll = next;
        this.o.onAutoScrollChange(next);
      }
    }
    this.programmaticScroll = false;
    this.lastTop = top;
    this.setAnchor(top);
    if (top < PAGE_AHEAD_ROWS * ROW_HEIGHT && store.hasOlder && !store.loadingOlder) this.o.onNeedOlder();
    if (store.detached && !store.loadingNewer && this.nearEnd()) this.o.onNeedNewer();
    this.schedule();
  }

  private onKey(e: KeyboardEvent): void {
    const rows = this.rows;
    if (rows.length === 0) return;
    const visible = Math.max(1, Math.floor(this.height / ROW_HEIGHT));
    let idx = this.selectedId === undefined ? -1 : rows.findIndex((r) => r.id === this.selectedId);
    switch (e.key) {
      case 'ArrowDown':
        idx = Math.min(rows.length - 1, idx + 1);
        break;
      case 'ArrowUp':
        idx = idx < 0 ? rows.length - 1 : Math.max(0, idx - 1);
        break;
      case 'PageDown':
        idx = Math.min(rows.length - 1, idx + visible);
        break;
      case 'PageUp':
        idx = Math.max(0, idx - visible);
        break;
      case 'Home':
        idx = 0;
        break;
      case 'End':
        idx = rows.length - 1;
        break;
      case 'Enter':
      case ' ':
        if (idx >= 0) {
          if (rows[idx].group && e.key === ' ') this.toggle(rows[idx].id);
          this.o.onSelect(rows[idx].id, true);
        }
        e.preventDefault();
        return;
      case 'ArrowRight':
      case 'ArrowLeft':
        if (idx >= 0 && rows[idx].group && this.o.store.isExpanded(rows[idx].id) !== (e.key === 'ArrowRight')) this.toggle(rows[idx].id);
        e.preventDefault();
        return;
      default:
        return;
    }
    e.preventDefault();
    if (idx < 0) return;
    // Moving the selection up means the user reads history: stop following the live end.
    if (e.key !== 'End' && this.autoScroll && idx < rows.length - 1) {
      this.newRows.paused(this.rows);
      this.autoScroll = false;
      this.o.onAutoScrollChange(false);
    } else if (e.key === 'End' && !this.autoScroll) {
      // End goes to the live end and follows it again, even when the last row is already in view (no scroll event).
      this.autoScroll = true;
      this.o.onAutoScrollChange(true);
    }
    this.selectedId = rows[idx].id;
    this.viewport.setAttribute('aria-activedescendant', `frow-${this.selectedId}`);
    this.ensureVisible(idx);
    this.o.onSelect(this.selectedId, false);
    this.schedule();
  }

  private ensureVisible(idx: number): void {
    const top = idx * ROW_HEIGHT;
    const vp = this.viewport;
    if (top < vp.scrollTop) vp.scrollTop = top;
    else if (top + ROW_HEIGHT > vp.scrollTop + vp.clientHeight) vp.scrollTop = top + ROW_HEIGHT - vp.clientHeight;
    this.top = vp.scrollTop;
  }

  private render(): void {
    // Known values only (no layout reads): the bottom follows from the row count, and the scroll is set last so
    // the one layout it forces includes the refilled rows.
    const bottom = Math.max(0, this.rows.length * ROW_HEIGHT - this.height);
    const top = this.autoScroll ? bottom : Math.min(this.top, bottom);
    // A move of more than a view (the scrollbar dragged through a long list, Page Down held, a jump) replaces every
    // row, and the next frame likely does again: the rows past the edges would be filled for nothing. They follow
    // once the view rests (the next frame, unless the view is following the live end, which needs none).
    const jumped = Math.abs(top - this.renderedTop) > this.height;
    this.renderedTop = top;
    this.setAnchor(top);
    const over = jumped ? 0 : OVERSCAN;
    if (jumped && !this.autoScroll) this.schedule();
    const start = Math.max(0, Math.floor(top / ROW_HEIGHT) - over);
    const end = Math.min(this.rows.length, Math.ceil((top + this.height) / ROW_HEIGHT) + over);
    const n = Math.max(0, end - start);
    while (this.pool.length < n) this.pool.push(this.makeRow());
    this.body.style.transform = `translateY(${start * ROW_HEIGHT}px)`;
    const showConn = this.o.picked() === undefined;
    const heading = this.o.store.times.heading(this.o.timeMode(), this.o.picked());
    if (this.timeHeader.textContent !== heading) {
      this.timeHeader.textContent = heading;
      this.timeHeader.title = this.o.store.times.tooltip(this.o.timeMode(), this.o.picked());
    }
    this.newRows.update(this.rows, this.autoScroll);
    this.el.classList.toggle('hide-conn', !showConn);
    for (let i = 0; i < this.pool.length; i++) {
      const cells = this.pool[i];
      if (i >= n) {
        if (cells.row.parentNode) cells.row.remove();
        continue;
      }
      if (!cells.row.parentNode || cells.row.parentNode !== this.body) this.body.appendChild(cells.row);
      this.fill(cells, this.rows[start + i], start + i);
    }
    if (this.autoScroll) this.scrollTo(top);
  }

  private makeRow(): Cells {
    const row = el('div', 'frow');
    row.setAttribute('role', 'row');
    const cells = {} as Record<Column, Cell>;
    for (const [cls] of COLUMNS) {
      const cell = el('div', `cell ${cls}`);
      cell.setAttribute('role', 'gridcell');
      row.appendChild(cell);
      cells[cls] = new Cell(cell);
    }
    return { ...cells, row };
  }

  private fill(c: Cells, r: Row, index: number): void {
    const e = this.o.store.get(r.id);
    const row = c.row;
    if (c.id !== r.id) {
      row.id = `frow-${r.id}`;
      row.dataset.id = String(r.id);
      c.id = r.id;
    }
    if (c.index !== index) {
      row.setAttribute('aria-rowindex', String(index + 1));
      c.index = index;
    }
    const selected = r.id === this.selectedId;
    if (c.selected !== selected) {
      row.setAttribute('aria-selected', String(selected));
      c.selected = selected;
    }
    const expanded = e?.kind === 'message' ? this.o.store.isExpanded(e.id) : undefined;
    if (c.expanded !== expanded) {
      if (expanded === undefined) row.removeAttribute('aria-expanded');
      else row.setAttribute('aria-expanded', String(expanded));
      c.expanded = expanded;
    }
    let cls = `frow${selected ? ' selected' : ''}${r.depth === 1 ? ' child' : ''}${index % 2 === 1 ? ' odd' : ''}`;
    if (!e) {
      for (const [col] of COLUMNS) c[col].set(`cell ${col}`, '');
    } else {
      const conn = this.o.connection(e.connectionId);
      c.time.set('cell time', this.time(e, conn));
      const others = e.kind === 'frame' || e.kind === 'message' ? (e.alsoSentToCount ?? 0) : 0;
      c.conn.set(
        'cell conn',
        (conn?.label ?? this.o.store.labelOf(e.connectionId)) + (others > 0 ? ` +${others}` : ''),
        others > 0 ? `Broadcast: the same bytes were written to ${others + 1} connections` : '',
      );
      switch (e.kind) {
        case 'frame':
          cls += this.fillFrame(c, e, r);
          break;
        case 'message':
          cls += this.fillMessage(c, e, expanded === true);
          break;
        case 'error':
          cls += ' k-error';
          setDir(c.dir, e.direction);
          c.op.set('cell op', 'error');
          c.flags.set('cell flags', '');
          c.len.set('cell len', e.byteCount !== undefined ? formatBytes(e.byteCount) : String(e.closeCode));
          c.preview.set('cell preview', `${e.code}: ${oneLine(e.message)}`);
          break;
        case 'handshake':
          cls += e.ok ? ' k-meta ok' : ' k-meta k-error';
          setDir(c.dir, undefined);
          c.op.set('cell op', 'handshake');
          c.flags.set('cell flags', '');
          c.len.set('cell len', e.status ? String(e.status) : '—');
          c.preview.set('cell preview', `${oneLine(e.requestLine)}${e.ok ? '' : ' (upgrade failed)'}`);
          break;
        case 'connection':
          cls += ' k-meta';
          this.fillConnection(c, e);
          break;
      }
    }
    if (c.cls !== cls) {
      row.className = cls;
      c.cls = cls;
    }
  }

  /** Fills a frame's cells; returns its row classes. */
  private fillFrame(c: Cells, f: FrameDto, r: Row): string {
    const msg = this.o.store.messageFor(f.id);
    const control = f.opcode >= 8;
    let cls = control ? ' k-control' : ' k-data';
    if (f.opcode === 8) cls += ' k-close';
    if (f.rsv2 || f.rsv3 || (f.opcode > 2 && f.opcode < 8) || f.opcode > 10) cls += ' k-error';
    setDir(c.dir, f.direction);
    c.op.set('cell op', (r.depth ? '↳ ' : '') + opcodeName(f.opcode) + (control ? ' ◆' : ''), control ? 'control frame' : '');
    c.flags.set('cell flags', frameFlags(f), '', frameFlagsLabel(f));
    c.len.set('cell len', frameLength(f, msg));
    const after = f.afterViolation === true;
    const u = this.unsent(f);
    c.preview.set(
      f.previewHex && !(msg && f.rsv1) ? 'cell preview hex' : 'cell preview',
      (u?.mark ?? '') + (after ? AFTER_VIOLATION_MARK : '') + framePreview(f, msg),
      [u?.title, after ? AFTER_VIOLATION_TITLE : undefined].filter(Boolean).join('\n'),
    );
    return cls + (after ? ' k-after-violation' : '') + unsentClass(u);
  }

  private fillConnection(c: Cells, e: ConnectionEventDto): void {
    setDir(c.dir, undefined);
    c.op.set('cell op', e.state === 'open' ? 'open' : 'closed');
    c.flags.set('cell flags', '');
    c.len.set('cell len', e.code !== undefined ? String(e.code) : '');
    if (e.state === 'open') {
      c.preview.set('cell preview', Object.entries(e.meta ?? {}).map(([k, v]) => `${oneLine(k)}=${oneLine(v)}`).join(' '));
    } else {
      // Whose close frame did not cross can be longer than the column: the tooltip has all of it.
      const text = closedPreview(e);
      c.preview.set('cell preview', text, text);
    }
  }

  /** Fills a grouped message's cells; returns its row classes. */
  private fillMessage(c: Cells, m: MessageDto, open: boolean): string {
    setDir(c.dir, m.direction);
    c.op.set('cell op twisty', `${open ? '▾' : '▸'} ${opcodeName(m.opcode)} ×${m.frameIds.length}`);
    c.flags.set('cell flags', m.compressed ? 'deflate' : '');
    c.len.set('cell len', messageLength(m));
    const u = this.unsent(m);
    c.preview.set(
      m.previewHex ? 'cell preview hex' : 'cell preview',
      (u?.mark ?? '') + (m.inflateError ? `[${m.inflateError}] ` : '') + oneLine(m.preview) + (m.previewTruncated ? '…' : ''),
      (u ? `${u.title}\n` : '') + `message of ${m.frameIds.length} frames, ${formatBytes(m.length)}`,
    );
    return (m.inflateError || m.utf8Valid === false ? ' k-data k-group k-error' : ' k-data k-group') + unsentClass(u);
  }

  private unsent(e: FrameDto | MessageDto): UnsentMark | undefined {
    // Rows are refilled on every scroll step: the common case costs one check.
    return e.unsentTo === undefined ? undefined : unsentMark(e, this.o.picked(), (id) => this.o.connection(id)?.label ?? this.o.store.labelOf(id));
  }

  private time(e: EventDto, conn: ConnectionRow | undefined): string {
    return this.o.store.times.text(e, this.o.timeMode(), this.o.picked(), conn?.connectedAt);
  }
}
