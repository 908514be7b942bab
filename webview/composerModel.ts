// The composer's logic without the DOM: turning what the user typed into a payload, and the history of sent messages.
import type { SendResult } from '../src/shared/breakpointsProtocol';
import type { SendPayload, SendTarget } from '../src/shared/protocol';
import { parseBase64, parseHex } from './format';

export type ComposerMode = 'text' | 'json' | 'hex' | 'base64';

export const COMPOSER_MODES: ReadonlyArray<{ value: ComposerMode; label: string }> = [
  { value: 'text', label: 'Text' },
  { value: 'json', label: 'JSON' },
  { value: 'hex', label: 'Binary (hex)' },
  { value: 'base64', label: 'Binary (base64)' },
];

export type ComposeResult = { ok: true; payload: SendPayload } | { ok: false; error: string };

/** Validates the input for its mode. JSON must parse; it is sent as typed (a text frame). */
export function compose(mode: ComposerMode, input: string): ComposeResult {
  try {
    switch (mode) {
      case 'text':
        return { ok: true, payload: { kind: 'text', text: input } };
      case 'json':
        if (input.trim() === '') return { ok: false, error: 'Type some JSON first.' };
        try {
          JSON.parse(input);
        } catch (err) {
          return { ok: false, error: `Invalid JSON: ${(err as Error).message}` };
        }
        return { ok: true, payload: { kind: 'text', text: input } };
      case 'hex':
        return { ok: true, payload: { kind: 'binary', data: parseHex(input) } };
      case 'base64':
        return { ok: true, payload: { kind: 'binary', data: parseBase64(input) } };
    }
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/**
 * The composer's line after a send: `Sent 12 chars to 3 clients.`, or, when a breakpoint holds it, that it was not sent
 * and where to decide.
 */
export function sendStatusText(r: SendResult, payload: SendPayload, target: SendTarget): string {
  const size = payload.kind === 'text' ? `${payload.text.length} chars` : `${payload.data.length} bytes`;
  if (r.status === 'held') return `Held by breakpoint ${r.ruleId ?? ''}, not sent yet (${size}): forward, edit or drop it in the Breakpoints tab.`;
  if (r.status === 'queued') return `Queued behind a held message, not sent yet (${size}): it goes once the held one is decided.`;
  if (target.kind === 'allClients' && r.delivered === 0) return `Not sent (${size}): no clients are connected, so nobody received it.`;
  if (target.kind === 'allClients') return `Sent ${size} to ${r.delivered} client${r.delivered === 1 ? '' : 's'}.`;
  return `Sent ${size}.`;
}

export interface HistoryEntry {
  mode: ComposerMode;
  text: string;
}

/** Sent messages, newest last, with shell-like recall: `older()` / `newer()` walk it; a new send resets the cursor. */
export class ComposerHistory {
  private entries: HistoryEntry[];
  private cursor: number;

  constructor(
    entries: HistoryEntry[] = [],
    private readonly max = 50,
  ) {
    this.entries = entries.slice(-max);
    this.cursor = this.entries.length;
  }

  get list(): readonly HistoryEntry[] {
    return this.entries;
  }

  push(e: HistoryEntry): void {
    // The same message sent again moves to the end instead of repeating.
    this.entries = this.entries.filter((x) => x.text !== e.text || x.mode !== e.mode);
    this.entries.push(e);
    if (this.entries.length > this.max) this.entries.shift();
    this.cursor = this.entries.length;
  }

  older(): HistoryEntry | undefined {
    if (this.cursor === 0) return this.entries[0];
    this.cursor--;
    return this.entries[this.cursor];
  }

  /** Undefined past the newest entry: the caller restores an empty draft. */
  newer(): HistoryEntry | undefined {
    if (this.cursor >= this.entries.length) return undefined;
    this.cursor++;
    return this.entries[this.cursor];
  }
}
