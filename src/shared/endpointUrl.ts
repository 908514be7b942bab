// A forgiving reading of a typed endpoint URL, shared by the quick pick and the connect form: what the user most
// likely meant, the URL to use, or the reason it cannot be used.

export interface EndpointUrlReading {
  /** The URL to connect to; absent when `problem` is set. */
  url?: string;
  /** Why the input cannot be used, for the box itself. */
  problem?: string;
  /** Set when `url` differs from the input: what was changed, to show beside it. */
  note?: string;
}

/** Reads `input` as a WebSocket URL: `localhost:8080` → `ws://localhost:8080`, `https://` → `wss://`; refuses `#`. */
export function readEndpointUrl(input: string): EndpointUrlReading {
  const typed = input.trim();
  if (!typed) return { problem: 'Enter a ws://, wss:// or ws+unix:// URL.' };
  if (typed.includes('#')) {
    return { problem: 'A WebSocket URL cannot have a #fragment: the browser and servers never send it. Remove the part from # on.' };
  }
  let candidate = typed;
  let note: string | undefined;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(typed)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') {
    candidate = (scheme === 'http' ? 'ws' : 'wss') + typed.slice(scheme.length);
    note = `${scheme}:// is read as ${scheme === 'http' ? 'ws' : 'wss'}://`;
  } else if (scheme === undefined) {
    // host:port, host/path or a bare host: a WebSocket URL without its scheme.
    candidate = `ws://${typed}`;
    note = 'ws:// added';
  }
  let u: URL;
  try {
    u = new URL(candidate);
  } catch {
    return { problem: `Not a URL: ${typed}` };
  }
  if (u.protocol === 'ws+unix:') {
    if (!u.pathname || u.pathname === '/') return { problem: 'A ws+unix:// URL needs a socket path, e.g. ws+unix:///tmp/app.sock:/path' };
    return { url: candidate };
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') return { problem: `Use ws://, wss:// or ws+unix:// (got ${u.protocol}//).` };
  if (!u.hostname) return { problem: 'The URL has no host.' };
  return note ? { url: candidate, note } : { url: candidate };
}

/** `url` with `params` appended to its query (in order, after what it already has). */
export function withQuery(url: string, params: ReadonlyArray<{ key: string; value: string }>): string {
  const kept = params.filter((p) => p.key !== '');
  if (kept.length === 0) return url;
  const u = new URL(url);
  for (const p of kept) u.searchParams.append(p.key, p.value);
  return u.toString();
}
