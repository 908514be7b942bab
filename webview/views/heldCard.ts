// One held frame's card: where and on which connection it is held, its payload (an editor when it can be edited), a
// countdown to its deadline with Hold longer and Forward now, Forward edited and Drop, and what is known about it: why
// it cannot be edited (and, in passthrough, how to make it editable next time) or that its connection closed.
import type { HeldAction, HeldFrameDto } from '../../src/shared/breakpointsProtocol';
import { bytesOfHex, formatHexBytes } from '../../src/shared/hex';
import { MAX_HEX_EDIT_BYTES, opcodeName } from '../../src/shared/protocol';
import { formatAbsolute, formatBytes, revealBidi } from '../format';
import { closedText, compressionSwitchText, countdownText, directionText, holdLongerLabel, notEditableText, sourceLabel } from '../heldText';
import { button, el, textArea, type Button, type TextInput } from '../ui';

/** An edited payload: text for a text frame, hex text for a binary one. */
export type HeldEdit = { text: string } | { hex: string };

export interface HeldCardActions {
  resolve(id: number, action: HeldAction, edit?: HeldEdit): Promise<void>;
  switchCompression(id: number): Promise<string>;
}

export class HeldCard {
  readonly el: HTMLElement;
  private readonly countdown: HTMLElement;
  private readonly timerRow: HTMLElement;
  private readonly actions: HTMLElement;
  private readonly closedLine: HTMLElement;
  private readonly buttons: Button[] = [];
  private editor?: TextInput;
  private hexEdit = false;
  /** Local clock time of the deadline: the host's remaining time counted from when the snapshot came. */
  private deadline = 0;
  private closed = false;

  constructor(
    private h: HeldFrameDto,
    holdLongerMs: number,
    private readonly act: HeldCardActions,
  ) {
    const li = (this.el = el('li', 'held-frame'));
    li.dataset.id = String(h.id);
    li.dataset.source = h.source;
    li.setAttribute('aria-label', `Held frame ${h.id}`);
    const head = el('div', 'held-head');
    const size = `${formatBytes(h.size)}${h.compressed ? ' (inflated)' : ''}`;
    head.append(el('span', `held-source source-${h.source}`, sourceLabel(h)));
    head.append(` · #${h.id} · ${directionText(h.source, h.direction)} · ${opcodeName(h.opcode)} · ${size} · rule ${h.ruleId} · held at ${formatAbsolute(h.heldAt)}`);
    this.closedLine = el('div', 'held-closed');
    this.closedLine.setAttribute('role', 'status');
    this.closedLine.hidden = true;
    li.append(head, this.closedLine);
    this.payload();
    if (!h.editable && h.notEditableReason) li.appendChild(el('div', 'note', notEditableText(h.notEditableReason)));
    if (h.compressionSwitch) li.appendChild(this.switchBox());
    // One row: what changes the frame on the left; the countdown, Hold longer and Forward now on the right.
    this.actions = el('div', 'actions');
    this.countdown = el('span', 'countdown');
    this.timerRow = el('span', 'timer');
    this.timerRow.append(
      this.countdown,
      this.button(holdLongerLabel(holdLongerMs), `Hold held frame ${h.id} longer`, 'secondary', () => this.run('holdLonger')),
      this.button('Forward now', `Forward held frame ${h.id} unchanged now`, 'primary', () => this.run('forward')),
    );
    if (h.editable && this.editor) this.actions.append(this.button('Forward edited', `Forward held frame ${h.id} edited`, 'secondary', () => this.run('edit')));
    if (h.editable) this.actions.append(this.button('Drop', `Drop held frame ${h.id}`, 'secondary', () => this.run('drop')));
    this.actions.append(this.timerRow);
    li.appendChild(this.actions);
    this.update(h);
  }

  /** The same frame in a newer snapshot: its deadline may have moved, its connection may have closed. */
  update(h: HeldFrameDto): void {
    this.h = h;
    this.deadline = Date.now() + h.remainingMs;
    if ((h.closed || h.resolved) && !this.closed) this.showClosed(h);
    this.tick();
  }

  tick(): void {
    if (this.closed) return;
    const text = countdownText(this.deadline - Date.now());
    if (this.countdown.textContent !== text) this.countdown.textContent = text;
  }

  private payload(): void {
    const h = this.h;
    const hexBytes = h.text === undefined && h.hexComplete && h.editable && h.hex !== undefined ? bytesOfHex(h.hex) : undefined;
    if (h.text !== undefined && !h.editable) {
      // Only Forward now is possible: the text is shown, not offered for editing.
      this.el.appendChild(el('pre', 'held-text', revealBidi(h.text)));
      return;
    }
    if (h.text !== undefined) {
      this.editor = textArea({ ariaLabel: `Payload of held frame ${h.id}`, value: h.text, rows: 4 });
    } else if (hexBytes !== undefined) {
      this.hexEdit = true;
      this.editor = textArea({ ariaLabel: `Payload of held frame ${h.id} in hex`, value: formatHexBytes(hexBytes), rows: 4 });
    }
    if (this.editor) {
      this.el.appendChild(this.editor.el);
      return;
    }
    this.el.appendChild(el('pre', 'hex', `${formatHexBytes(bytesOfHex(h.hex ?? '') ?? new Uint8Array(0))}${h.size > 256 ? ' …' : ''}`));
    if (h.editable) this.el.appendChild(el('div', 'note', `Too large to edit as hex here (${formatBytes(h.size)}; at most ${formatBytes(MAX_HEX_EDIT_BYTES)}): forward or drop it.`));
  }

  /** Passthrough made it uneditable: what to change for next time, and the button that changes it. */
  private switchBox(): HTMLElement {
    const { text, button: label } = compressionSwitchText(this.h.compressionSwitch!);
    const box = el('div', 'held-switch');
    const line = el('div', 'note', text);
    box.appendChild(line);
    if (label) {
      const result = el('div', 'note switch-result');
      result.setAttribute('role', 'status');
      const b = button({
        label,
        ariaLabel: `${label} (held frame ${this.h.id})`,
        appearance: 'secondary',
        onClick: () => {
          b.setDisabled(true);
          this.act.switchCompression(this.h.id).then(
            (message) => (result.textContent = message),
            () => b.setDisabled(false),
          );
        },
      });
      box.append(b.el, result);
    }
    return box;
  }

  private showClosed(h: HeldFrameDto): void {
    this.closed = true;
    this.el.classList.add('closed');
    this.closedLine.textContent = h.closed ? closedText(h.closed) : 'The connection closed while this was held. Not delivered.';
    this.closedLine.hidden = false;
    this.countdown.textContent = '';
    for (const b of this.buttons) b.el.remove();
    this.timerRow.hidden = true;
    this.editor?.el.setAttribute('readonly', '');
    this.actions.replaceChildren(this.button('Dismiss', `Dismiss held frame ${h.id}`, 'secondary', () => this.run('dismiss')));
  }

  private button(label: string, ariaLabel: string, appearance: 'primary' | 'secondary', onClick: () => void): HTMLElement {
    const b = button({ label, ariaLabel, appearance, onClick });
    this.buttons.push(b);
    return b.el;
  }

  private run(action: HeldAction): void {
    // Hold longer leaves the frame held: its buttons stay usable once the host answered.
    for (const b of this.buttons) b.setDisabled(true);
    const edit: HeldEdit | undefined = action !== 'edit' || !this.editor ? undefined : this.hexEdit ? { hex: this.editor.value } : { text: this.editor.value };
    const enable = () => {
      for (const b of this.buttons) b.setDisabled(false);
    };
    this.act.resolve(this.h.id, action, edit).then(action === 'holdLonger' ? enable : undefined, enable);
  }
}
