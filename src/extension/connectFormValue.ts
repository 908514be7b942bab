// The connect form's value as an endpoint (to connect to, or to save), and a saved endpoint as the form's value.
import type { ConnectFormValue } from '../shared/connectFormProtocol';
import { readEndpointUrl, withQuery } from '../shared/endpointUrl';
import type { EndpointToSave } from './connectEndpoints';
import { reconnectOptions } from './connectText';

/** The endpoint the form describes; throws with the URL box's reason when the URL cannot be used. */
export function endpointOfForm(f: ConnectFormValue): EndpointToSave {
  const r = readEndpointUrl(f.url);
  if (!r.url) throw new Error(r.problem);
  const headers = Object.fromEntries(f.headers.filter((h) => h.key.trim() !== '').map((h) => [h.key.trim(), h.value]));
  const subprotocols = f.subprotocols
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const ms = (s: string) => (/^\d+$/.test(s.trim()) ? Number(s.trim()) : undefined);
  const bounds = { initialDelayMs: ms(f.initialDelayMs), maxDelayMs: ms(f.maxDelayMs) };
  const hasBounds = bounds.initialDelayMs !== undefined || bounds.maxDelayMs !== undefined;
  return {
    ...(f.name.trim() ? { name: f.name.trim() } : {}),
    url: withQuery(r.url, f.query),
    ...(Object.keys(headers).length ? { headers } : {}),
    ...(subprotocols.length ? { subprotocols } : {}),
    ...(f.caFile.trim() ? { caFile: f.caFile.trim() } : {}),
    ...(f.allowSelfSigned ? { allowSelfSigned: true } : {}),
    ...(f.reconnect ? { reconnect: hasBounds ? Object.fromEntries(Object.entries(bounds).filter(([, v]) => v !== undefined)) : true } : {}),
  };
}

/** A saved endpoint in the form (its query stays in the URL). */
export function formOfEndpoint(e: EndpointToSave): Partial<ConnectFormValue> {
  const r = reconnectOptions(e.reconnect);
  return {
    name: e.name ?? '',
    url: e.url,
    headers: Object.entries(e.headers ?? {}).map(([key, value]) => ({ key, value })),
    subprotocols: (e.subprotocols ?? []).join(', '),
    caFile: e.caFile ?? '',
    allowSelfSigned: e.allowSelfSigned === true,
    reconnect: r?.enabled === true,
    initialDelayMs: r?.initialDelayMs !== undefined ? String(r.initialDelayMs) : '',
    maxDelayMs: r?.maxDelayMs !== undefined ? String(r.maxDelayMs) : '',
  };
}
