// The composer: payload mode, target, validation before sending, Ctrl/Cmd+Enter, and history recall.
import type { SendResult } from '../../src/shared/breakpointsProtocol';
import type { ConnectionRow, ModelSnapshot, SendPayload, SendTarget } from '../../src/shared/protocol';
import { COMPOSER_MODES, ComposerHistory, compose, sendStatusText, type ComposerMode, type HistoryEntry } from '../composerModel';
import { button, dropdown, el, textArea, type Dropdown, type Option, type TextInput } from '../ui';

export interface ComposerOptions {
  mode: ComposerMode;
  text: string;
  target: string;
  history: HistoryEntry[];
  send: (target: SendTarget, payload: SendPayload) => Promise<SendResult>;
  onStateChange: (s: { mode: ComposerMode; text: string; target: string; history: HistoryEntry[] }) => void;
}

function encodeTarget(t: SendTarget): string {
  return t.kind === 'allClients' ? 'all' : t.kind === 'client' ? `client:${t.clientId}` : `conn:${t.connectionId}`;
}

/** The target a connection row stands for: a server's client or an outgoing connection; watched traffic has none. */
function targetOf(c: ConnectionRow): SendTarget | undefined {
  if (c.kind === 'serverClient') return { kind: 'client', clientId: c.id };
  // Proxied, browser and backplane traffic is watched, not sent on from here.
  if (c.kind === 'outgoing') return { kind: 'connection', connectionId: c.id };
  return undefined;
}

function stateWord(s: ConnectionRow['state']): string {
  // A connection that dropped (state 'failed') is closed all the same: the notification told why.
  return s === 'reconnecting' || s === 'connecting' ? s : 'closed';
}

function decodeTarget(s: string): SendTarget | undefined {
  if (s === 'all') return { kind: 'allClients' };
  if (s.startsWith('client:')) return { kind: 'client', clientId: s.slice(7) };
  if (s.startsWith('conn:')) return { kind: 'connection', connectionId: s.slice(5) };
  return undefined;
}

export class Composer {
  readonly el: HTMLElement;
  private readonly input: TextInput;
  private readonly modePicker: Dropdown<ComposerMode>;
  private readonly targetPicker: Dropdown<string>;
  private readonly historyPicker: Dropdown<string>;
  private readonly status: HTMLElement;
  private readonly history: ComposerHistory;
  private mode: ComposerMode;
  private target: string;
  private sending = false;

  constructor(private readonly o: ComposerOptions) {
    this.mode = o.mode;
    this.target = o.target;
    this.history = new ComposerHistory(o.history);
    this.el = el('section', 'composer');
    this.el.setAttribute('aria-label', 'Composer');
    this.modePicker = dropdown<ComposerMode>({
      ariaLabel: 'Payload type',
      options: COMPOSER_MODES,
      value: o.mode,
      onChange: (m) => {
        this.mode = m;
        this.validate();
        this.changed();
      },
    });
    this.targetPicker = dropdown<string>({
      ariaLabel: 'Send to',
      options: [{ value: 'all', label: 'All clients' }],
      value: o.target,
      onChange: (t) => {
        this.target = t;
        this.targetPicker.el.title = this.labels.get(t) ?? '';
        this.changed();
      },
    });
    this.historyPicker = dropdown<string>({
      ariaLabel: 'Recall a sent message',
      options: this.historyOptions(),
      value: '',
      onChange: (v) => {
        const e = this.history.list[Number(v)];
        if (e) this.load(e);
        this.historyPicker.value = '';
      },
    });
    this.input = textArea({
      ariaLabel: 'Message to send',
      placeholder: 'Message… (Ctrl+Enter to send, Alt+↑/↓ for history)',
      value: o.text,
      rows: 3,
      onInput: () => {
        this.validate();
        this.changed();
      },
    });
    this.input.el.addEventListener('keydown', (e) => this.onKey(e));
    const sendBtn = button({ label: 'Send', ariaLabel: 'Send message', appearance: 'primary', onClick: () => void this.send() });
    this.status = el('div', 'composer-status');
    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');

    const bar = el('div', 'composer-bar');
    bar.append(label('Type', this.modePicker.el), label('To', this.targetPicker.el), label('History', this.historyPicker.el), sendBtn.el);
    this.el.append(bar, this.input.el, this.status);
  }

  /** Focuses the composer aimed at one target (from the clients table). */
  aimAt(target: SendTarget): void {
    this.target = encodeTarget(target);
    this.targetPicker.value = this.target;
    this.changed();
    this.input.focus();
  }

  /** Aims at the connection selected in the list, when it is one the composer can send to. */
  /** "All connections" picked: the composer goes back to every client. */
  aimAtAll(): void {
    if (this.target === 'all') return;
    this.target = 'all';
    this.targetPicker.value = this.target;
    this.showTargetTitle();
    this.changed();
  }

  aimAtConnection(c: ConnectionRow | undefined): void {
    const t = c && targetOf(c);
    if (!t || encodeTarget(t) === this.target) return;
    this.target = encodeTarget(t);
    this.targetPicker.value = this.target;
    this.showTargetTitle();
    this.changed();
  }

  updateTargets(m: ModelSnapshot): void {
    const opts: Array<Option<string>> = [];
    if (m.servers.length) opts.push({ value: 'all', label: 'All clients' });
    for (const c of m.connections) {
      const t = targetOf(c);
      if (!t) continue;
      const value = encodeTarget(t);
      const label = `${t.kind === 'client' ? 'Client' : 'Connection'} ${c.label}`;
      this.labels.set(value, label);
      // A connection that closed stays while it is the target, and says so: the target never switches silently.
      if (c.state === 'open') opts.push({ value, label, title: label });
      else if (value === this.target) opts.push({ value, label: `${label} (${stateWord(c.state)})`, title: `${label}: ${stateWord(c.state)}` });
    }
    const known = this.labels.get(this.target);
    if (known !== undefined && !opts.some((x) => x.value === this.target)) opts.push({ value: this.target, label: `${known} (closed)`, title: `${known} (closed)` });
    if (opts.length === 0 || (this.target === 'all' && !m.servers.length)) opts.unshift({ value: 'all', label: 'All clients (no server running)' });
    // A target restored from an earlier session that this panel never saw: the first option, as on a fresh start.
    if (!opts.some((x) => x.value === this.target)) this.target = opts[0].value;
    const key = opts.map((x) => x.value + x.label).join('|');
    if (key === this.targetsKey) return;
    this.targetsKey = key;
    this.targetPicker.setOptions(opts, this.target);
    this.showTargetTitle(opts);
  }
  private targetsKey = '';
  /** The last label of each target seen, for a target that has left the model. */
  private readonly labels = new Map<string, string>();

  /** The To box shows the whole label on hover: a long URL or address is cut by the box's width. */
  private showTargetTitle(opts?: Array<Option<string>>): void {
    const o = opts?.find((x) => x.value === this.target);
    this.targetPicker.el.title = o?.title ?? o?.label ?? this.labels.get(this.target) ?? '';
  }

  private historyOptions(): Array<Option<string>> {
    const list = this.history.list;
    const opts: Array<Option<string>> = [{ value: '', label: list.length ? 'Recall…' : 'No history' }];
    for (let i = list.length - 1; i >= 0; i--) {
      const t = list[i].text.replace(/\s+/g, ' ');
      opts.push({ value: String(i), label: `${list[i].mode}: ${t.length > 60 ? t.slice(0, 60) + '…' : t}` });
    }
    return opts;
  }

  private load(e: HistoryEntry): void {
    this.mode = e.mode;
    this.modePicker.value = e.mode;
    this.input.value = e.text;
    this.validate();
    this.changed();
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void this.send();
    } else if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
      e.preventDefault();
      const h = e.key === 'ArrowUp' ? this.history.older() : this.history.newer();
      if (h) this.load(h);
      else if (e.key === 'ArrowDown') this.input.value = '';
    }
  }

  private validate(): boolean {
    if (this.mode === 'text' || this.input.value === '') {
      this.input.setInvalid(undefined);
      this.setStatus('');
      return true;
    }
    const r = compose(this.mode, this.input.value);
    this.input.setInvalid(r.ok ? undefined : r.error);
    this.setStatus(r.ok ? '' : r.error, !r.ok);
    return r.ok;
  }

  private setStatus(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('error', error);
  }

  private async send(): Promise<void> {
    if (this.sending) return;
    const r = compose(this.mode, this.input.value);
    if (!r.ok) {
      this.input.setInvalid(r.error);
      this.setStatus(r.error, true);
      return;
    }
    const target = decodeTarget(this.target);
    if (!target) {
      this.setStatus('Pick where to send.', true);
      return;
    }
    this.sending = true;
    try {
      const result = await this.o.send(target, r.payload);
      this.history.push({ mode: this.mode, text: this.input.value });
      this.historyPicker.setOptions(this.historyOptions(), '');
      this.setStatus(sendStatusText(result, r.payload, target));
      this.status.classList.toggle('held', result.status !== 'sent');
      this.changed();
    } catch (err) {
      this.setStatus((err as Error).message, true);
    } finally {
      this.sending = false;
    }
  }

  private changed(): void {
    this.o.onStateChange({ mode: this.mode, text: this.input.value, target: this.target, history: [...this.history.list] });
  }
}

function label(text: string, control: HTMLElement): HTMLElement {
  const l = el('label', 'field');
  l.append(el('span', 'field-label', text), control);
  return l;
}
