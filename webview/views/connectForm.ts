// The connect form, Postman-like: URL (read forgivingly, refused at once with the reason), headers, subprotocols, query
// parameters, TLS and reconnect, with Connect and Save as Endpoint.
import { emptyForm, type ConnectFormToHost, type ConnectFormValue, type KeyValue } from '../../src/shared/connectFormProtocol';
import { readEndpointUrl } from '../../src/shared/endpointUrl';
import { button, checkbox, el, textField, type TextInput } from '../ui';

/** A key/value list with Add and Remove: headers, query parameters. */
class KeyValueList {
  readonly el = el('div', 'kv-list');
  private readonly rows = el('div', 'kv-rows');
  private items: KeyValue[] = [];

  constructor(
    private readonly what: string,
    private readonly onChange: () => void,
  ) {
    const add = button({ label: `Add ${what}`, appearance: 'secondary', onClick: () => this.add({ key: '', value: '' }, true) });
    this.el.append(this.rows, add.el);
  }

  get value(): KeyValue[] {
    return this.items.filter((i) => i.key.trim() !== '').map((i) => ({ key: i.key.trim(), value: i.value }));
  }

  set value(list: KeyValue[]) {
    this.items = [];
    this.rows.replaceChildren();
    for (const kv of list) this.add(kv, false);
  }

  private add(kv: KeyValue, focus: boolean): void {
    const item = { ...kv };
    this.items.push(item);
    const row = el('div', 'kv-row');
    const key = textField({ ariaLabel: `${this.what} name`, placeholder: 'Name', value: kv.key, onInput: (v) => ((item.key = v), this.onChange()) });
    const value = textField({ ariaLabel: `${this.what} value`, placeholder: 'Value', value: kv.value, onInput: (v) => ((item.value = v), this.onChange()) });
    const remove = button({
      label: '✕',
      ariaLabel: `Remove ${this.what}`,
      title: `Remove this ${this.what}`,
      appearance: 'icon',
      onClick: () => {
        this.items = this.items.filter((i) => i !== item);
        row.remove();
        this.onChange();
      },
    });
    row.append(key.el, value.el, remove.el);
    this.rows.append(row);
    if (focus) queueMicrotask(() => key.focus());
  }
}

function field(text: string, control: HTMLElement, hint?: HTMLElement): HTMLElement {
  const wrap = el('label', 'form-field');
  wrap.append(el('span', 'form-label', text), control);
  if (hint) wrap.append(hint);
  return wrap;
}

export class ConnectForm {
  readonly el = el('form', 'connect-form');
  private readonly url: TextInput;
  private readonly urlHint = el('div', 'form-hint');
  private readonly name: TextInput;
  private readonly subprotocols: TextInput;
  private readonly caFile: TextInput;
  private readonly headers: KeyValueList;
  private readonly query: KeyValueList;
  private readonly initialDelay: TextInput;
  private readonly maxDelay: TextInput;
  private readonly status = el('div', 'form-status');
  private readonly unsafeWarning = el('div', 'form-warning', '⚠ Unsafe: any certificate is accepted (self-signed, expired, another host’s). Anyone on the path can read and change the traffic. Prefer a CA file. Saved only to your user settings.');
  private readonly reconnectBounds = el('div', 'form-row');
  private allowSelfSigned = false;
  private reconnect = false;
  private readonly selfSignedBox;
  private readonly reconnectBox;

  constructor(private readonly post: (m: ConnectFormToHost) => void) {
    this.el.setAttribute('aria-label', 'Connect to a WebSocket endpoint');
    this.url = textField({ ariaLabel: 'URL', placeholder: 'ws://localhost:8080/path', onInput: () => this.checkUrl() });
    this.name = textField({ ariaLabel: 'Name', placeholder: 'Optional, shown in the endpoint list' });
    this.subprotocols = textField({ ariaLabel: 'Subprotocols', placeholder: 'chat.v2, json (in order of preference)' });
    this.caFile = textField({ ariaLabel: 'CA file', placeholder: 'PEM of the CA or of the self-signed certificate' });
    this.headers = new KeyValueList('header', () => undefined);
    this.query = new KeyValueList('query parameter', () => this.checkUrl());
    this.initialDelay = textField({ ariaLabel: 'First delay (ms)', placeholder: '500' });
    this.maxDelay = textField({ ariaLabel: 'Longest delay (ms)', placeholder: '30000' });
    this.selfSignedBox = checkbox({ label: 'Allow self-signed certificates (unsafe)', onChange: (c) => ((this.allowSelfSigned = c), this.showToggles()) });
    this.reconnectBox = checkbox({ label: 'Reconnect automatically, with backoff', onChange: (c) => ((this.reconnect = c), this.showToggles()) });
    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');
    this.urlHint.setAttribute('aria-live', 'polite');
    this.build();
    this.showToggles();
  }

  private build(): void {
    const browse = button({ label: 'Browse…', appearance: 'secondary', onClick: () => this.post({ type: 'pickCaFile' }) });
    const caRow = el('div', 'form-row');
    caRow.append(this.caFile.el, browse.el);
    this.reconnectBounds.append(field('First delay (ms)', this.initialDelay.el), field('Longest delay (ms)', this.maxDelay.el));
    const connect = button({ label: 'Connect', appearance: 'primary', onClick: () => this.submit('connect') });
    const save = button({ label: 'Save as Endpoint', appearance: 'secondary', onClick: () => this.submit('save') });
    const actions = el('div', 'form-actions');
    actions.append(connect.el, save.el);
    const section = (title: string, ...children: HTMLElement[]) => {
      const s = el('fieldset', 'form-section');
      s.append(el('legend', undefined, title), ...children);
      return s;
    };
    this.el.append(
      el('h1', undefined, 'Connect to a WebSocket endpoint'),
      field('URL', this.url.el, this.urlHint),
      field('Name', this.name.el),
      section('Headers', this.headers.el),
      field('Subprotocols', this.subprotocols.el),
      section('Query parameters', this.query.el),
      section('TLS (wss://)', field('CA file', caRow), this.selfSignedBox.el, this.unsafeWarning),
      section('Reconnect', this.reconnectBox.el, this.reconnectBounds),
      actions,
      this.status,
    );
    this.el.addEventListener('submit', (e) => e.preventDefault());
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) this.submit('connect');
    });
  }

  /** The URL box says at once what it will connect to, or why it cannot. */
  private checkUrl(): boolean {
    if (this.url.value.trim() === '') {
      this.url.setInvalid(undefined);
      this.urlHint.textContent = '';
      this.urlHint.className = 'form-hint';
      return false;
    }
    const r = readEndpointUrl(this.url.value);
    this.url.setInvalid(r.problem);
    this.urlHint.className = r.problem ? 'form-hint error' : 'form-hint';
    this.urlHint.textContent = r.problem ?? (r.note ? `Connects to ${r.url} (${r.note})` : '');
    return r.url !== undefined;
  }

  private showToggles(): void {
    this.unsafeWarning.hidden = !this.allowSelfSigned;
    this.reconnectBounds.hidden = !this.reconnect;
  }

  private submit(kind: 'connect' | 'save'): void {
    if (!this.checkUrl()) {
      if (this.url.value.trim() === '') this.showStatus(false, 'Enter a URL.');
      this.url.focus();
      return;
    }
    this.showStatus(true, kind === 'connect' ? 'Connecting…' : 'Saving…');
    this.post({ type: kind, form: this.value });
  }

  get value(): ConnectFormValue {
    return {
      name: this.name.value.trim(),
      url: this.url.value.trim(),
      headers: this.headers.value,
      subprotocols: this.subprotocols.value,
      query: this.query.value,
      caFile: this.caFile.value.trim(),
      allowSelfSigned: this.allowSelfSigned,
      reconnect: this.reconnect,
      initialDelayMs: this.initialDelay.value.trim(),
      maxDelayMs: this.maxDelay.value.trim(),
    };
  }

  set value(partial: Partial<ConnectFormValue>) {
    const v = { ...emptyForm(), ...partial };
    this.url.value = v.url;
    this.name.value = v.name;
    this.subprotocols.value = v.subprotocols;
    this.caFile.value = v.caFile;
    this.headers.value = v.headers;
    this.query.value = v.query;
    this.initialDelay.value = v.initialDelayMs;
    this.maxDelay.value = v.maxDelayMs;
    this.allowSelfSigned = this.selfSignedBox.checked = v.allowSelfSigned;
    this.reconnect = this.reconnectBox.checked = v.reconnect;
    this.showToggles();
    this.checkUrl();
  }

  setCaFile(path: string): void {
    this.caFile.value = path;
  }

  showStatus(ok: boolean, text: string): void {
    this.status.className = ok ? 'form-status' : 'form-status error';
    this.status.textContent = text;
  }

  focus(): void {
    this.url.focus();
  }
}
