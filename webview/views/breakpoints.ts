// Frame breakpoints: the rules in force, the frames the proxy holds (edit and forward, forward, or drop each), and
// what became of the latest ones (a timed-out frame was forwarded unchanged: the user must see that it was).
import { bytesOfHex, formatHexBytes } from '../../src/shared/hex';
import { MAX_HEX_EDIT_BYTES, opcodeName, type BreakpointsSnapshot, type HeldFrameDto, type HeldOutcomeDto } from '../../src/shared/protocol';
import { formatAbsolute, formatBytes } from '../format';
import { button, el, textArea, type TextInput } from '../ui';

export type HeldAction = 'forward' | 'edit' | 'drop';

/** An edited payload: text for a text frame, hex text for a binary one. */
export type HeldEdit = { text: string } | { hex: string };

const OUTCOME_TEXT: Record<HeldOutcomeDto['outcome'], string> = {
  forwarded: 'forwarded unchanged',
  edited: 'forwarded edited',
  dropped: 'dropped',
  timedOut: 'timed out, forwarded unchanged',
  connectionClosed: 'discarded: the connection closed',
};

interface HeldItem {
  li: HTMLElement;
  countdown: HTMLElement;
  editor?: TextInput;
  deadline: number;
}

export class BreakpointsPane {
  readonly el: HTMLElement;
  private readonly rules: HTMLElement;
  private readonly heldList: HTMLElement;
  private readonly heldEmpty: HTMLElement;
  private readonly recent: HTMLElement;
  private readonly items = new Map<number, HeldItem>();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly onResolve: (id: number, action: HeldAction, edit?: HeldEdit) => Promise<void>) {
    this.el = el('div', 'breakpoints');
    this.rules = el('p', 'note');
    const heldTitle = el('h3', undefined, 'Held frames');
    this.heldList = el('ul', 'held');
    this.heldList.setAttribute('aria-label', 'Held frames');
    this.heldEmpty = el('div', 'note', 'No frame is held.');
    const recentTitle = el('h3', undefined, 'Latest outcomes');
    this.recent = el('ul', 'outcomes');
    this.recent.setAttribute('aria-label', 'Latest breakpoint outcomes');
    this.el.append(this.rules, heldTitle, this.heldEmpty, this.heldList, recentTitle, this.recent);
    this.timer = setInterval(() => this.tick(), 1000);
  }

  /** How many frames are held now. */
  get heldCount(): number {
    return this.items.size;
  }

  update(b: BreakpointsSnapshot | undefined, label: (connectionId: string) => string): void {
    if (!b) {
      this.rules.textContent = 'Breakpoints work on connections through the inspecting proxy ("WebSocket: Start Inspecting Proxy…").';
      return;
    }
    const enabled = b.rules.filter((r) => r.enabled);
    this.rules.textContent = b.rules.length
      ? `Rules: ${b.rules.map((r) => `${r.id}${r.enabled ? '' : ' (off)'}: ${r.description}`).join('; ')}. A held frame is forwarded unchanged after ${Math.round(b.timeoutMs / 1000)} s.`
      : 'No breakpoint rules. Add one with "WebSocket: Add Frame Breakpoint…" (or the wsInspector.breakpoints.rules setting).';
    if (b.rules.length && !enabled.length) this.rules.textContent += ' All rules are off.';

    const seen = new Set<number>();
    for (const h of b.held) {
      seen.add(h.id);
      if (!this.items.has(h.id)) {
        const item = this.heldItem(h, label(h.connectionId));
        this.items.set(h.id, item);
        this.heldList.appendChild(item.li);
      }
    }
    for (const [id, item] of this.items) {
      if (!seen.has(id)) {
        item.li.remove();
        this.items.delete(id);
      }
    }
    this.heldEmpty.hidden = this.items.size > 0;
    this.tick();

    const rows = b.recent
      .slice()
      .reverse()
      .map((o) => {
        const li = el('li', `outcome outcome-${o.outcome}`);
        li.textContent = `${formatAbsolute(o.time)} · #${o.id} ${arrow(o.direction)} ${label(o.connectionId)} · rule ${o.ruleId}: ${OUTCOME_TEXT[o.outcome]}`;
        return li;
      });
    this.recent.replaceChildren(...rows);
  }

  private heldItem(h: HeldFrameDto, connection: string): HeldItem {
    const li = el('li', 'held-frame');
    li.dataset.id = String(h.id);
    li.setAttribute('aria-label', `Held frame ${h.id}`);
    const head = el('div', 'held-head');
    head.textContent = `#${h.id} ${arrow(h.direction)} ${connection} · ${opcodeName(h.opcode)} · ${formatBytes(h.size)}${h.compressed ? ' (inflated)' : ''} · rule ${h.ruleId} · held at ${formatAbsolute(h.heldAt)}`;
    const countdown = el('span', 'countdown');
    head.append(' · ', countdown);
    li.appendChild(head);
    let editor: TextInput | undefined;
    // A binary payload is edited as hex when the panel has all of it; a text one as text.
    const hexBytes = h.text === undefined && h.hexComplete && h.editable && h.hex !== undefined ? bytesOfHex(h.hex) : undefined;
    if (h.text !== undefined) {
      editor = textArea({ ariaLabel: `Payload of held frame ${h.id}`, value: h.text, rows: 4 });
      li.appendChild(editor.el);
    } else if (hexBytes !== undefined) {
      editor = textArea({ ariaLabel: `Payload of held frame ${h.id} in hex`, value: formatHexBytes(hexBytes), rows: 4 });
      li.appendChild(editor.el);
    } else {
      li.appendChild(el('pre', 'hex', `${formatHexBytes(bytesOfHex(h.hex ?? '') ?? new Uint8Array(0))}${h.size > 256 ? ' …' : ''}`));
      if (h.editable) li.appendChild(el('div', 'note', `Too large to edit as hex here (${formatBytes(h.size)}; at most ${formatBytes(MAX_HEX_EDIT_BYTES)}): forward or drop it.`));
    }
    if (!h.editable && h.notEditableReason) li.appendChild(el('div', 'note', h.notEditableReason));
    const actions = el('div', 'actions');
    const act = (action: HeldAction) => {
      for (const b of buttons) b.setDisabled(true);
      const edit: HeldEdit | undefined = action !== 'edit' || editor === undefined ? undefined : hexBytes !== undefined ? { hex: editor.value } : { text: editor.value };
      this.onResolve(h.id, action, edit).catch(() => {
        for (const b of buttons) b.setDisabled(false);
      });
    };
    const buttons = [
      button({ label: 'Forward', ariaLabel: `Forward held frame ${h.id} unchanged`, appearance: 'secondary', onClick: () => act('forward') }),
    ];
    if (h.editable && editor !== undefined) {
      buttons.unshift(button({ label: 'Forward edited', ariaLabel: `Forward held frame ${h.id} edited`, appearance: 'primary', onClick: () => act('edit') }));
    }
    if (h.editable) buttons.push(button({ label: 'Drop', ariaLabel: `Drop held frame ${h.id}`, appearance: 'secondary', onClick: () => act('drop') }));
    actions.append(...buttons.map((b) => b.el));
    li.appendChild(actions);
    return { li, countdown, editor, deadline: h.deadline };
  }

  private tick(): void {
    const now = Date.now();
    for (const item of this.items.values()) {
      const s = Math.max(0, Math.ceil((item.deadline - now) / 1000));
      const text = `forwarded unchanged in ${s} s`;
      if (item.countdown.textContent !== text) item.countdown.textContent = text;
    }
  }

  dispose(): void {
    clearInterval(this.timer);
  }
}

function arrow(d: 'c2s' | 's2c'): string {
  return d === 'c2s' ? '→' : '←';
}
