// Messages between the connect form's webview and the extension host (connectForm.ts on both sides).

export interface KeyValue {
  key: string;
  value: string;
}

/** What the form holds: an endpoint as the user edits it. */
export interface ConnectFormValue {
  name: string;
  url: string;
  headers: KeyValue[];
  /** Comma-separated, in order of preference. */
  subprotocols: string;
  query: KeyValue[];
  caFile: string;
  allowSelfSigned: boolean;
  reconnect: boolean;
  /** Backoff bounds (ms) when `reconnect`; empty for the defaults. */
  initialDelayMs: string;
  maxDelayMs: string;
}

export type ConnectFormToHost =
  | { type: 'ready' }
  | { type: 'connect'; form: ConnectFormValue }
  | { type: 'save'; form: ConnectFormValue }
  | { type: 'pickCaFile' };

export type ConnectFormToWebview =
  | { type: 'init'; form?: Partial<ConnectFormValue> }
  | { type: 'caFile'; path: string }
  /** The outcome of Connect or Save, for the form's status line. */
  | { type: 'status'; ok: boolean; text: string };

export function emptyForm(): ConnectFormValue {
  return { name: '', url: '', headers: [], subprotocols: '', query: [], caFile: '', allowSelfSigned: false, reconnect: false, initialDelayMs: '', maxDelayMs: '' };
}
