// The filter bar (direction, data/control, search, pause, clear, auto-scroll, time mode) and the live counters.
import type { ViewFilter } from '../../src/shared/protocol';
import { formatBytes, formatCount, regexError } from '../format';
import type { ViewStore } from '../store';
import { TIME_MODES, type TimeMode } from '../timeBase';
import { button, checkbox, dropdown, el, textField, type Button, type Checkbox, type TextInput } from '../ui';

export interface FilterBarOptions {
  filter: ViewFilter;
  timeMode: TimeMode;
  autoScroll: boolean;
  onFilter: (f: ViewFilter) => void;
  onPause: (paused: boolean) => void;
  onClear: () => void;
  onAutoScroll: (on: boolean) => void;
  onTimeMode: (m: TimeMode) => void;
}

type DirValue = 'all' | 'c2s' | 's2c';
type KindValue = 'all' | 'data' | 'control';

export class FilterBar {
  readonly el: HTMLElement;
  private filter: ViewFilter;
  private readonly search: TextInput;
  private readonly pauseBtn: Button;
  private readonly auto: Checkbox;
  private readonly error: HTMLElement;
  private paused = false;
  private searchTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly o: FilterBarOptions) {
    this.filter = { ...o.filter };
    this.el = el('div', 'filterbar');
    this.el.setAttribute('role', 'toolbar');
    this.el.setAttribute('aria-label', 'Frame filters');
    const dir = dropdown<DirValue>({
      ariaLabel: 'Direction',
      options: [
        { value: 'all', label: '↕ Both directions' },
        { value: 'c2s', label: '↑ Client → server' },
        { value: 's2c', label: '↓ Server → client' },
      ],
      value: this.filter.direction ?? 'all',
      onChange: (v) => this.set({ direction: v === 'all' ? undefined : v }),
    });
    const kind = dropdown<KindValue>({
      ariaLabel: 'Frame kind',
      options: [
        { value: 'all', label: 'All frames' },
        { value: 'data', label: 'Data frames' },
        { value: 'control', label: 'Control frames' },
      ],
      value: this.filter.opcodes ?? 'all',
      onChange: (v) => this.set({ opcodes: v === 'all' ? undefined : v }),
    });
    this.search = textField({
      ariaLabel: 'Search payloads',
      placeholder: 'Search payloads',
      value: this.filter.search,
      onInput: () => this.onSearch(),
    });
    const regex = checkbox({
      label: '.*',
      ariaLabel: 'Search is a regular expression',
      checked: this.filter.regex,
      onChange: (c) => {
        this.filter = { ...this.filter, regex: c || undefined };
        this.onSearch(true);
      },
    });
    this.pauseBtn = button({ label: 'Pause', ariaLabel: 'Pause live view', appearance: 'secondary', onClick: () => this.setPaused(!this.paused) });
    const clear = button({ label: 'Clear', ariaLabel: 'Clear the view', appearance: 'secondary', onClick: () => o.onClear() });
    this.auto = checkbox({ label: 'Auto-scroll', checked: o.autoScroll, onChange: (c) => o.onAutoScroll(c) });
    const time = dropdown<TimeMode>({
      ariaLabel: 'Time format',
      options: TIME_MODES,
      value: o.timeMode,
      onChange: (m) => o.onTimeMode(m),
    });
    this.error = el('span', 'filter-error');
    this.error.setAttribute('role', 'alert');
    this.el.append(dir.el, kind.el, this.search.el, regex.el, this.error, this.pauseBtn.el, clear.el, this.auto.el, time.el);
  }

  setAutoScroll(on: boolean): void {
    this.auto.checked = on;
  }

  setPaused(p: boolean): void {
    this.paused = p;
    this.pauseBtn.setLabel(p ? 'Resume' : 'Pause', p ? 'Resume live view' : 'Pause live view');
    this.pauseBtn.setPressed(p);
    this.o.onPause(p);
  }

  /** A filter the host refused (a regex the store could not compile). */
  showError(message: string | undefined): void {
    this.error.textContent = message ?? '';
    this.search.setInvalid(message);
  }

  setConnection(id: string | undefined): void {
    this.set({ connectionId: id });
  }

  private onSearch(now = false): void {
    if (this.searchTimer) clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(
      () => {
        const s = this.search.value;
        const err = this.filter.regex && s ? regexError(s) : undefined;
        this.showError(err);
        if (err) return;
        this.set({ search: s || undefined });
      },
      now ? 0 : 250,
    );
  }

  private set(part: Partial<ViewFilter>): void {
    const next: ViewFilter = { ...this.filter, ...part };
    for (const k of Object.keys(next) as Array<keyof ViewFilter>) if (next[k] === undefined) delete next[k];
    this.filter = next;
    this.o.onFilter(next);
  }
}

export class Counters {
  readonly el: HTMLElement;
  private readonly frames = el('span', 'counter');
  private readonly bytes = el('span', 'counter');
  private readonly rate = el('span', 'counter');
  private readonly shown = el('span', 'counter');
  private readonly evicted = el('span', 'evicted');
  private readonly paused = el('span', 'paused');

  constructor() {
    this.el = el('div', 'counters');
    this.el.setAttribute('role', 'status');
    this.el.setAttribute('aria-label', 'Live counters');
    this.el.append(this.frames, this.bytes, this.rate, this.shown, this.paused, this.evicted);
  }

  update(s: ViewStore, now: number): void {
    const c = s.counters;
    set(this.frames, `${formatCount(c.frames)} frames`);
    set(this.bytes, formatBytes(c.frameBytes));
    set(this.rate, `${s.rate.perSecond(now).toFixed(1)} msg/s`);
    set(this.shown, `${formatCount(s.rows().length)} rows shown`);
    set(this.paused, s.paused ? `Paused — ${formatCount(s.pausedCount)} new events held${s.pausedOverflow ? ' (will reload)' : ''}` : '');
    this.paused.hidden = !s.paused;
    set(
      this.evicted,
      c.evictedEvents > 0 ? `${formatCount(c.evictedEvents)} events evicted (${formatBytes(c.evictedBytes)}): the capture history is full` : '',
    );
    this.evicted.hidden = c.evictedEvents === 0;
  }
}

function set(e: HTMLElement, t: string): void {
  if (e.textContent !== t) e.textContent = t;
}
