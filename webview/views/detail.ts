// The frame/message detail pane and the handshake view. Everything is set as text: payloads are untrusted.
import { headerLine, opcodeName, type ConnectionEventDto, type ErrorDto, type EventDetail, type FrameDetail } from '../../src/shared/protocol';
import type { HandshakeDetail, HttpHeadDto, MessageDetail } from '../../src/shared/protocol';
import { closeFramesBySide, closeFrameText, decodeText, missingCloseText, formatAbsolute, formatBytes, frameFlagsLabel, hexDump, lengthText, oneLine, prettyJson, revealBidi, toHex, tryDecodeText } from '../format';
import type { ProxyCompressionDto } from '../../src/shared/breakpointsProtocol';
import { compressionFacts } from '../compressionText';
import { dropdown, el, type Dropdown } from '../ui';
import { exactBytes, unsentDetail, unsentShort, unsentSummary } from '../unsent';

export type DetailView = 'auto' | 'text' | 'json' | 'hex';
/** Hex dumps beyond this are cut: a megabyte of hex lines would freeze the pane. */
const MAX_HEX_BYTES = 64 * 1024;

export class DetailPane {
  readonly el: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly body: HTMLElement;
  private readonly viewPicker: Dropdown<DetailView>;
  private current: EventDetail | null | undefined;

  constructor(
    private view: DetailView,
    onViewChange: (v: DetailView) => void,
    /** A connection's name, as the table shows it. */
    private readonly label: (connectionId: string) => string,
  ) {
    this.el = el('div', 'detail');
    const bar = el('div', 'detail-bar');
    this.summary = el('div', 'detail-summary');
    this.summary.setAttribute('aria-live', 'polite');
    this.viewPicker = dropdown<DetailView>({
      ariaLabel: 'Payload view',
      options: [
        { value: 'auto', label: 'Auto' },
        { value: 'text', label: 'Text' },
        { value: 'json', label: 'JSON' },
        { value: 'hex', label: 'Hex' },
      ],
      value: view,
      onChange: (v) => {
        this.view = v;
        onViewChange(v);
        this.render();
      },
    });
    bar.append(this.summary, this.viewPicker.el);
    this.body = el('div', 'detail-body');
    this.body.tabIndex = 0;
    this.body.setAttribute('role', 'region');
    this.body.setAttribute('aria-label', 'Payload');
    this.el.append(bar, this.body);
    this.show(undefined);
  }

  /** undefined: nothing selected; null: the event is no longer in the store. */
  show(d: EventDetail | null | undefined): void {
    this.current = d;
    this.render();
  }

  showError(message: string): void {
    this.current = undefined;
    this.summary.textContent = message;
    this.body.replaceChildren();
  }

  private render(): void {
    const d = this.current;
    this.body.replaceChildren();
    if (d === undefined) {
      this.summary.textContent = 'Select a frame to see its payload.';
      return;
    }
    if (d === null) {
      this.summary.textContent = 'This event has been evicted from the capture history.';
      return;
    }
    switch (d.kind) {
      case 'frame':
        this.frame(d);
        break;
      case 'message':
        this.message(d);
        break;
      case 'handshake':
        this.summary.textContent = `handshake #${d.id}`;
        this.body.appendChild(handshakeView(d));
        break;
      case 'simple':
        if (d.event.kind === 'error') this.error(d.event);
        else this.connection(d.event);
        break;
    }
  }

  private frame(d: FrameDetail): void {
    const f = d.frame;
    const parts = [
      `#${f.id}`,
      opcodeName(f.opcode),
      f.direction === 'c2s' ? 'client → server' : 'server → client',
      frameFlagsLabel(f),
      `payload ${formatBytes(f.payloadLength)}`,
      `header ${f.headerLength} B`,
    ];
    if (f.closeCode !== undefined) parts.push(`close ${f.closeCode}${f.closeReason ? ` “${oneLine(f.closeReason)}”` : ''}`);
    if (f.messageId !== undefined) parts.push(`message #${f.messageId}`);
    const short = unsentShort(f);
    if (short) parts.push(short);
    this.summary.textContent = parts.join(' · ');
    const unsent = unsentDetail(f, this.label);
    if (unsent) this.body.append(kv('Not sent', unsent, 'unsent'));
    this.body.append(kv('Header bytes', toHex(d.header)), kv('Mask key', d.maskKey ? toHex(d.maskKey) : 'not masked'));
    // A compressed frame's payload is deflate data: show it as bytes.
    this.payload(d.payload, d.truncated, f.rsv1 || f.opcode === 2 ? 'hex' : undefined);
  }

  private message(d: MessageDetail): void {
    const m = d.message;
    const unsent = unsentDetail(m, this.label);
    this.summary.textContent = [
      `message #${m.id}`,
      opcodeName(m.opcode),
      m.direction === 'c2s' ? 'client → server' : 'server → client',
      `${m.frameIds.length} frame${m.frameIds.length === 1 ? '' : 's'}`,
      m.compressed ? `deflate ${lengthText(m.wireLength, m.inflatedLength ?? m.length)}` : formatBytes(m.length),
      m.inflateError ? `inflate failed: ${oneLine(m.inflateError)}` : '',
      m.utf8Valid === false ? 'invalid UTF-8' : '',
      unsentShort(m) ?? '',
    ]
      .filter(Boolean)
      .join(' · ');
    if (unsent) this.body.append(kv('Not sent', unsent, 'unsent'));
    this.payload(d.data, d.truncated, m.opcode === 2 || m.inflateError ? 'hex' : undefined);
  }

  private error(e: ErrorDto): void {
    this.summary.textContent = `protocol error #${e.id}`;
    this.body.append(kv('Code', e.code), kv('Close status', String(e.closeCode)), kv('Message', oneLine(e.message)));
  }

  private connection(e: ConnectionEventDto): void {
    this.summary.textContent = `connection ${e.state} #${e.id}`;
    const b = this.body;
    b.append(kv('Role', e.role), kv('Time', formatAbsolute(e.time)));
    if (e.code !== undefined) b.append(kv('Close code', String(e.code)));
    if (e.reason) b.append(kv('Reason', oneLine(e.reason)));
    if (e.clean !== undefined) b.append(kv('Clean', e.clean ? 'yes' : 'no'));
    for (const { side, frame: f } of closeFramesBySide(e) ?? []) {
      b.append(kv(`Close frame from ${side}`, f ? `${closeFrameText(f)}${f.unsent ? ' — written, never left' : ''}` : 'none'));
    }
    const missing = missingCloseText(e);
    if (missing) b.append(kv('Missing close frame', missing, 'unsent'));
    if (e.bytesIn !== undefined) b.append(kv('Bytes in', exactBytes(e.bytesIn)));
    if (e.bytesOut !== undefined) b.append(kv('Bytes out (sent)', exactBytes(e.bytesOut)));
    const unsent = unsentSummary(e);
    if (unsent) b.append(kv('Unsent', unsent, 'unsent'));
    for (const [k, v] of Object.entries(e.meta ?? {})) b.append(kv(oneLine(k), oneLine(v)));
  }

  private payload(bytes: Uint8Array, truncated: boolean, natural: 'hex' | undefined): void {
    let view = this.view;
    const text = tryDecodeText(bytes);
    if (view === 'auto') view = natural ?? (text === undefined ? 'hex' : prettyJson(text) !== undefined ? 'json' : 'text');
    const pre = el('pre', `payload ${view}`);
    if (view === 'hex') {
      const lines = hexDump(bytes, MAX_HEX_BYTES);
      pre.textContent = lines.map((l) => `${l.offset}  ${l.hex.padEnd(49)}  ${l.ascii}`).join('\n');
      if (bytes.length > MAX_HEX_BYTES) pre.textContent += `\n… ${formatBytes(bytes.length - MAX_HEX_BYTES)} more`;
    } else if (view === 'json') {
      const pretty = prettyJson(text ?? decodeText(bytes));
      pre.textContent = revealBidi(pretty ?? (text ?? decodeText(bytes)));
      if (pretty === undefined) this.body.appendChild(el('div', 'note', 'Not valid JSON: shown as text.'));
    } else {
      pre.textContent = revealBidi(text ?? decodeText(bytes));
    }
    if (bytes.length === 0) pre.textContent = '(empty payload)';
    this.body.appendChild(pre);
    if (truncated) this.body.appendChild(el('div', 'note', 'Only the first megabyte is shown.'));
  }
}

function kv(k: string, v: string, cls?: string): HTMLElement {
  const row = el('div', cls ? `kv ${cls}` : 'kv');
  row.append(el('span', 'k', k), el('span', 'v', v));
  return row;
}

function headBlock(title: string, h: HttpHeadDto): HTMLElement {
  const sec = el('section', 'head');
  sec.appendChild(el('h3', undefined, title));
  const pre = el('pre', 'wire');
  pre.textContent = oneLine(h.startLine);
  for (const header of h.headers) {
    // Each line with its whitespace as on the wire; a value that was not valid UTF-8 is marked as read as latin-1.
    const { text, latin1 } = headerLine(header);
    pre.append('\n' + oneLine(text));
    if (latin1) {
      const mark = el('span', 'note', '  latin-1');
      mark.title = 'Not valid UTF-8: shown as latin-1, one character per byte';
      pre.appendChild(mark);
    }
  }
  sec.appendChild(pre);
  return sec;
}

/** Request and response heads as on the wire, the negotiated parameters, and a failed upgrade's body. */
function handshakeView(d: HandshakeDetail): HTMLElement {
  const root = el('div', 'handshake');
  const facts = el('div', 'facts');
  facts.append(
    kv('Status', d.status ? `${d.status}${d.ok ? ' (upgraded)' : ' — upgrade failed'}` : 'no response'),
    kv('Subprotocol', d.subprotocol === undefined ? 'none' : oneLine(d.subprotocol)),
    kv('Extensions', d.extensions === undefined ? 'none' : oneLine(d.extensions)),
    kv('Time to open', d.openMs !== undefined ? `${d.openMs.toFixed(1)} ms` : '—'),
    kv('Started', formatAbsolute(d.time)),
  );
  if (!d.ok) root.classList.add('failed');
  root.append(facts, headBlock('Request', d.request));
  if (d.response) root.appendChild(headBlock('Response', d.response));
  if (d.body && d.body.length) {
    const sec = el('section', 'head');
    sec.appendChild(el('h3', undefined, `Response body${d.bodyTruncated ? ' (truncated)' : ''}`));
    sec.appendChild(el('pre', 'wire', revealBidi(decodeText(d.body))));
    root.appendChild(sec);
  }
  return root;
}

export class HandshakePane {
  readonly el: HTMLElement;
  /** `compressionOf`: the compression of the proxied connection a capture connection id belongs to, if it is one. */
  constructor(private readonly compressionOf: (connectionId: string) => ProxyCompressionDto | undefined) {
    this.el = el('div', 'handshake-pane');
    this.show(undefined, 'Pick a connection to see its opening handshake.');
  }
  show(d: HandshakeDetail | null | undefined, message?: string): void {
    if (!d) {
      this.el.replaceChildren(el('div', 'note', message ?? 'No handshake recorded for this connection (or it was evicted).'));
      return;
    }
    const view = handshakeView(d);
    // A proxied connection: how the proxy runs permessage-deflate, and what each leg negotiated.
    const c = this.compressionOf(d.connectionId);
    if (c) {
      const sec = el('section', 'facts proxy-compression');
      sec.setAttribute('aria-label', 'Compression through the proxy');
      for (const [k, v] of compressionFacts(c)) sec.appendChild(kv(k, v));
      view.prepend(sec);
    }
    this.el.replaceChildren(view);
  }
}
