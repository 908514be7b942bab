// The virtualized frames table: only the rows in view (plus a few) exist in the DOM, reused as the user scrolls.
import { opcodeName, type ConnectionRow, type EventDto, type FrameDto, type MessageDto } from '../../src/shared/protocol';
import {
  formatAbsolute,
  formatRelative,
  frameFlags,
  frameFlagsLabel,
  frameLength,
  framePreview,
  messageLength,
  oneLine,
  formatBytes,
} from '../format';
import { nextAutoScroll, type Row, type ViewStore } from '../store';
import { el } from '../ui';

export const ROW_HEIGHT = 22;
const OVERSCAN = 8;
/** Ask for an older page when the top of the view is this many rows from the first held row. */
const PAGE_AHEAD_ROWS = 40;

export interface FramesTableOptions {
  store: ViewStore;
  timeMode: () => 'relative' | 'absolute';
  connection: (id: string) => ConnectionRow | undefined;
  showConnection: () => boolean;
  onSelect: (id: number, open: boolean) => void;
  onNeedOlder: () => void;
  onAutoScrollChange: (on: boolean) => void;
}

interface Cells {
  row: HTMLElement;
  time: HTMLElement;
  dir: HTMLElement;
  conn: HTMLElement;
  op: HTMLElement;
  flags: HTMLElement;
  len: HTMLElement;
  preview: HTMLElement;
}

const COLUMNS: Array<[cls: keyof Omit<Cells, 'row'>, title: string]> = [
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
  private readonly pool: Cells[] = [];
  private rows: Row[] = [];
  private selectedId: number | undefined;
  private autoScroll = true;
  private lastTop = 0;
  private frame = 0;
  private programmaticScroll = false;

  constructor(private readonly o: FramesTableOptions) {
    this.el = el('div', 'frames');
    const header = el('div', 'frames-header');
    header.setAttribute('role', 'row');
    for (const [cls, title] of COLUMNS) {
      const h = el('div', `cell ${cls}`, title);
      h.setAttribute('role', 'columnheader');
      header.appendChild(h);
    }
    this.viewport = el('div', 'frames-viewport');
    this.viewport.tabIndex = 0;
    this.viewport.setAttribute('role', 'grid');
    this.viewport.setAttribute('aria-label', 'Frames');
    this.spacer = el('div', 'frames-spacer');
    this.body = el('div', 'frames-body');
    this.body.setAttribute('role', 'rowgroup');
    this.empty = el('div', 'frames-empty', 'No frames yet. Start the server or connect to an endpoint; frames show here live.');
    this.spacer.appendChild(this.body);
    this.viewport.append(this.spacer);
    this.el.append(header, this.viewport, this.empty);

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
    new ResizeObserver(() => this.schedule()).observe(this.viewport);
  }

  get autoScrolling(): boolean {
    return this.autoScroll;
  }

  setAutoScroll(on: boolean): void {
    this.autoScroll = on;
    if (on) this.scrollToBottom();
  }

  /** The rows changed (new events, a page, a filter): re-render, keeping the view anchored. */
  update(prependedRows = 0): void {
    this.rows = this.o.store.rows();
    this.viewport.setAttribute('aria-rowcount', String(this.rows.length));
    this.spacer.style.height = `${this.rows.length * ROW_HEIGHT}px`;
    this.empty.hidden = this.rows.length > 0;
    if (prependedRows > 0 && !this.autoScroll) {
      this.programmaticScroll = true;
      this.viewport.scrollTop += prependedRows * ROW_HEIGHT;
    }
    if (this.autoScroll) this.scrollToBottom();
    this.schedule();
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

  private scrollToBottom(): void {
    this.programmaticScroll = true;
    this.viewport.scrollTop = this.viewport.scrollHeight;
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
    const maxTop = this.viewport.scrollHeight - this.viewport.clientHeight;
    if (!this.programmaticScroll) {
      const next = nextAutoScroll(this.autoScroll, this.lastTop, top, maxTop);
      if (next !== this.autoScroll) {
        this.autoScroll = next;
        this.o.onAutoScrollChange(next);
      }
    }
    this.programmaticScroll = false;
    this.lastTop = top;
    if (top < PAGE_AHEAD_ROWS * ROW_HEIGHT && this.o.store.hasOlder && !this.o.store.loadingOlder) this.o.onNeedOlder();
    this.schedule();
  }

  private onKey(e: KeyboardEvent): void {
    const rows = this.rows;
    if (rows.length === 0) return;
    const visible = Math.max(1, Math.floor(this.viewport.clientHeight / ROW_HEIGHT));
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
  }

  private render(): void {
    const vp = this.viewport;
    const start = Math.max(0, Math.floor(vp.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const end = Math.min(this.rows.length, Math.ceil((vp.scrollTop + vp.clientHeight) / ROW_HEIGHT) + OVERSCAN);
    const n = Math.max(0, end - start);
    while (this.pool.length < n) this.pool.push(this.makeRow());
    this.body.style.transform = `translateY(${start * ROW_HEIGHT}px)`;
    const showConn = this.o.showConnection();
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
  }

  private makeRow(): Cells {
    const row = el('div', 'frow');
    row.setAttribute('role', 'row');
    const c = {} as Cells;
    c.row = row;
    for (const [cls] of COLUMNS) {
      const cell = el('div', `cell ${cls}`);
      cell.setAttribute('role', 'gridcell');
      row.appendChild(cell);
      c[cls] = cell;
    }
    return c;
  }

  private fill(c: Cells, r: Row, index: number): void {
    const e = this.o.store.get(r.id);
    const row = c.row;
    row.id = `frow-${r.id}`;
    row.dataset.id = String(r.id);
    row.setAttribute('aria-rowindex', String(index + 1));
    row.setAttribute('aria-selected', String(r.id === this.selectedId));
    row.className = 'frow';
    for (const [cls] of COLUMNS) {
      c[cls].className = `cell ${cls}`;
      c[cls].removeAttribute('title');
    }
    if (!e) return;
    const conn = this.o.connection(e.connectionId);
    c.time.textContent = this.time(e, conn);
    const others = e.kind === 'frame' || e.kind === 'message' ? (e.alsoSentToCount ?? 0) : 0;
    c.conn.textContent = (conn?.label ?? e.connectionId) + (others > 0 ? ` +${others}` : '');
    if (others > 0) c.conn.title = `Broadcast: the same bytes went to ${others + 1} connections`;
    row.classList.toggle('selected', r.id === this.selectedId);
    row.classList.toggle('child', r.depth === 1);
    row.classList.toggle('odd', index % 2 === 1);
    switch (e.kind) {
      case 'frame':
        this.fillFrame(c, e, r);
        break;
      case 'message':
        this.fillMessage(c, e);
        break;
      case 'error':
        row.classList.add('k-error');
        setDir(c.dir, e.direction);
        c.op.textContent = 'error';
        c.flags.textContent = '';
        c.len.textContent = String(e.closeCode);
        c.preview.textContent = `${e.code}: ${oneLine(e.message)}`;
        break;
      case 'handshake':
        row.classList.add('k-meta', e.ok ? 'ok' : 'k-error');
        setDir(c.dir, undefined);
        c.op.textContent = 'handshake';
        c.flags.textContent = '';
        c.len.textContent = e.status ? String(e.status) : '—';
        c.preview.textContent = `${e.requestLine}${e.ok ? '' : ' (upgrade failed)'}`;
        break;
      case 'connection':
        row.classList.add('k-meta');
        setDir(c.dir, undefined);
        c.op.textContent = e.state === 'open' ? 'open' : 'closed';
        c.flags.textContent = '';
        c.len.textContent = e.code !== undefined ? String(e.code) : '';
        c.preview.textContent =
          e.state === 'open'
            ? Object.entries(e.meta ?? {})
                .map(([k, v]) => `${k}=${v}`)
                .join(' ')
            : `${e.clean ? 'clean' : 'not clean'}${e.reason ? ` — ${oneLine(e.reason)}` : ''}`;
        break;
    }
  }

  private fillFrame(c: Cells, f: FrameDto, r: Row): void {
    const msg = this.o.store.messageFor(f.id);
    const control = f.opcode >= 8;
    c.row.classList.add(control ? 'k-control' : 'k-data');
    if (f.opcode === 8) c.row.classList.add('k-close');
    if (f.rsv2 || f.rsv3 || (f.opcode > 2 && f.opcode < 8) || f.opcode > 10) c.row.classList.add('k-error');
    setDir(c.dir, f.direction);
    c.op.textContent = (r.depth ? '↳ ' : '') + opcodeName(f.opcode) + (control ? ' ◆' : '');
    if (control) c.op.title = 'control frame';
    c.flags.textContent = frameFlags(f);
    c.flags.setAttribute('aria-label', frameFlagsLabel(f));
    c.len.textContent = frameLength(f, msg);
    c.preview.textContent = framePreview(f, msg);
    c.preview.classList.toggle('hex', f.previewHex && !(msg && f.rsv1));
  }

  private fillMessage(c: Cells, m: MessageDto): void {
    c.row.classList.add('k-data', 'k-group');
    if (m.inflateError || m.utf8Valid === false) c.row.classList.add('k-error');
    setDir(c.dir, m.direction);
    const open = this.o.store.isExpanded(m.id);
    c.op.textContent = `${open ? '▾' : '▸'} ${opcodeName(m.opcode)} ×${m.frameIds.length}`;
    c.op.classList.add('twisty');
    c.row.setAttribute('aria-expanded', String(open));
    c.flags.textContent = m.compressed ? 'deflate' : '';
    c.flags.removeAttribute('aria-label');
    c.len.textContent = messageLength(m);
    c.preview.textContent = (m.inflateError ? `[${m.inflateError}] ` : '') + oneLine(m.preview) + (m.previewTruncated ? '…' : '');
    c.preview.classList.toggle('hex', m.previewHex);
    c.preview.title = `message of ${m.frameIds.length} frames, ${formatBytes(m.length)}`;
  }

  private time(e: EventDto, conn: ConnectionRow | undefined): string {
    if (this.o.timeMode() === 'absolute' || conn?.connectedAt === undefined) return formatAbsolute(e.time);
    return formatRelative(e.time, conn.connectedAt);
  }
}

function setDir(cell: HTMLElement, d: 'c2s' | 's2c' | undefined): void {
  cell.textContent = d === 'c2s' ? '↑' : d === 's2c' ? '↓' : '•';
  cell.className = `cell dir ${d ?? ''}`;
  cell.setAttribute('aria-label', d === 'c2s' ? 'client to server' : d === 's2c' ? 'server to client' : 'event');
}
