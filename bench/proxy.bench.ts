// Messages per second through the inspecting proxy, passing compression through and terminating it, against a direct
// connection, all measured in the same run. One ws client per variant (its defaults: it offers permessage-deflate)
// echoes 1 KiB JSON messages, a window of them in flight, off a ws server with deflate on (bench/proxy.child.ts, which
// also runs both proxies, capture off: what is measured is the proxy's own path). The variants are loaded in turn in
// short slices, so that they share the drift of this shared machine; ratios are medians of per-round ratios.
// Knobs: PROXY_ROUNDS (default 7), PROXY_SLICE_MS (default 300), PROXY_WINDOW (messages in flight, default 32).
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import type { ProxyChildReady } from './proxy.child';
import type { BenchRow } from './row';
import { childScript } from './childScript';

const ROUNDS = Number(process.env.PROXY_ROUNDS) || 7;
const WARMUP_ROUNDS = 2;
const SLICE_MS = Number(process.env.PROXY_SLICE_MS) || 300;
const WINDOW = Number(process.env.PROXY_WINDOW) || 32;

const VARIANTS = ['direct', 'passthrough', 'terminate'] as const;
type Variant = (typeof VARIANTS)[number];

function message(i: number): string {
  const items = Array.from({ length: 12 }, (_, k) => ({ sku: `sku-${(i * 7 + k) % 97}`, qty: (i + k) % 5, note: 'same words in every message' }));
  return JSON.stringify({ type: 'order', i, items }).padEnd(1024, ' ');
}

/** Echoes for `ms` with WINDOW messages in flight; the rate of echoes received. */
async function slice(ws: WebSocket, ms: number): Promise<number> {
  let received = 0;
  let inFlight = 0;
  let sending = true;
  let n = 0;
  let settle: () => void = () => {};
  const settled = new Promise<void>((r) => (settle = r));
  const send = () => {
    inFlight++;
    ws.send(message(n++));
  };
  const onMessage = () => {
    inFlight--;
    if (sending) {
      received++;
      send();
    } else if (inFlight === 0) {
      settle();
    }
  };
  ws.on('message', onMessage);
  const t0 = performance.now();
  for (let i = 0; i < WINDOW; i++) send();
  await new Promise((r) => setTimeout(r, ms));
  sending = false;
  const elapsed = performance.now() - t0;
  if (inFlight > 0) await settled;
  ws.off('message', onMessage);
  return (received * 1000) / elapsed;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchProxy(): Promise<BenchRow[]> {
  const child = fork(await childScript('proxy'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const [ready] = (await once(child, 'message')) as [ProxyChildReady | { error: string }];
    if ('error' in ready) throw new Error(ready.error);
    const port: Record<Variant, number> = { direct: ready.target, passthrough: ready.passthrough, terminate: ready.terminate };
    const clients = {} as Record<Variant, WebSocket>;
    for (const v of VARIANTS) {
      const ws = new WebSocket(`ws://127.0.0.1:${port[v]}`);
      ws.on('error', () => {});
      await once(ws, 'open');
      if (!/permessage-deflate/.test(ws.extensions)) throw new Error(`${v}: deflate was not negotiated (${ws.extensions})`);
      clients[v] = ws;
    }
    const rates: Record<Variant, number[]> = { direct: [], passthrough: [], terminate: [] };
    for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
      const r = { direct: 0, passthrough: 0, terminate: 0 };
      for (let s = 0; s < 2; s++) for (const v of VARIANTS) r[v] += (await slice(clients[v], SLICE_MS)) / 2;
      if (round >= WARMUP_ROUNDS) for (const v of VARIANTS) rates[v].push(r[v]);
    }
    for (const ws of Object.values(clients)) ws.terminate();
    const ratio = (v: Variant) => median(rates[v].map((x, i) => x / rates.direct[i]));
    return [
      { name: 'proxy: direct connection (ws ↔ ws, deflate)', value: median(rates.direct), unit: 'msg/s' },
      { name: 'proxy: passthrough', value: median(rates.passthrough), unit: 'msg/s', ratio: ratio('passthrough'), baseline: 'direct' },
      { name: 'proxy: terminate (deflate on both legs)', value: median(rates.terminate), unit: 'msg/s', ratio: ratio('terminate'), baseline: 'direct' },
    ];
  } finally {
    child.kill();
  }
}
