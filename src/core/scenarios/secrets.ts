// Keeps `${secret:…}` values out of what a run reports and exports: step messages, expected/actual texts, labels,
// and the frames of an export.

import type { CaptureEvent } from '../capture/events';
import type { HttpHead } from '../wire/types';

/** What a secret is replaced with in text. */
export const SECRET_MASK = '•••';

export class SecretMasker {
  private readonly values: string[] = [];
  private readonly bytes: Buffer[] = [];

  /** Remembers a secret's value (longest first, so that a secret inside another is not half hidden). */
  add(value: string): void {
    if (value === '' || this.values.includes(value)) return;
    this.values.push(value);
    this.values.sort((a, b) => b.length - a.length);
    this.bytes.push(Buffer.from(value));
    this.bytes.sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.values.length;
  }

  /** `s` with every secret replaced by SECRET_MASK. */
  text(s: string): string {
    for (const v of this.values) if (s.includes(v)) s = s.split(v).join(SECRET_MASK);
    return s;
  }

  /**
   * A capture event for an export: secrets in handshake heads, URLs and labels replaced by the mask, and in payloads by
   * as many `*` as their bytes, so that lengths, and so the frames' headers, stay true.
   */
  event(e: CaptureEvent): CaptureEvent {
    if (this.values.length === 0) return e;
    switch (e.kind) {
      case 'handshake':
        return { ...e, request: this.head(e.request), response: e.response && this.head(e.response), body: e.body && this.buffer(e.body) };
      case 'connection':
        return e.meta ? { ...e, meta: Object.fromEntries(Object.entries(e.meta).map(([k, v]) => [k, this.text(v)])) } : e;
      case 'frame':
        return { ...e, payload: this.buffer(e.payload) };
      case 'message':
        return { ...e, data: this.buffer(e.data) };
      default:
        return { ...e, message: this.text(e.message) };
    }
  }

  private head(h: HttpHead): HttpHead {
    return { ...h, startLine: this.text(h.startLine), headers: h.headers.map(([n, v, w]) => (w ? [n, this.text(v), w] : [n, this.text(v)])) };
  }

  private buffer(b: Buffer): Buffer {
    let out: Buffer | undefined;
    for (const s of this.bytes) {
      for (let i = (out ?? b).indexOf(s); i !== -1; i = (out ?? b).indexOf(s, i + s.length)) {
        out ??= Buffer.from(b);
        out.fill(0x2a, i, i + s.length);
      }
    }
    return out ?? b;
  }
}
