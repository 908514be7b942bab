// Opens a session file of any format this product reads: NDJSON and HAR exports (its own, and Chrome's HAR), pcap and
// pcapng captures. The format is told by the file's first bytes, then by its extension.
import * as fs from 'node:fs';
import type { CaptureSink } from '../capture/events';
import { type HarReadOptions, readHar } from './harReader';
import { type NdjsonReadOptions, readNdjson } from './ndjsonReader';
import { type PcapReadOptions, type PcapReadResult, readPcap } from './pcapReader';
import { Problems, type SessionFormat, type SessionReadResult, sessionError } from './sessionErrors';
import type { SessionSource } from './sessionSource';

export interface SessionFileOptions extends NdjsonReadOptions, HarReadOptions, PcapReadOptions {
  /** Read as this format instead of telling it from the file. */
  format?: SessionFormat;
  /** Bytes per read from the file. Default 1 MiB. */
  chunkBytes?: number;
}

/** How many bytes detectSessionFormat looks at. */
export const DETECT_BYTES = 64 * 1024;

/**
 * The format of a file from its first bytes (up to DETECT_BYTES), else from its name's extension; undefined when
 * neither tells.
 */
export function detectSessionFormat(head: Buffer, fileName = ''): SessionFormat | undefined {
  if (head.length >= 4) {
    const le = head.readUInt32LE(0);
    if (le === 0x0a0d0d0a) return 'pcapng';
    const be = head.readUInt32BE(0);
    if ([le, be].some((m) => m === 0xa1b2c3d4 || m === 0xa1b23c4d)) return 'pcap';
  }
  const text = head.toString('utf8', head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0);
  if (/^\s*\{\s*"log"\s*:/.test(text)) return 'har';
  const firstLine = /^\s*(\{[^\n]*\})\s*(?:\n|$)/.exec(text);
  if (firstLine !== null) {
    try {
      const v = JSON.parse(firstLine[1]) as Record<string, unknown>;
      if (typeof v.kind === 'string' && typeof v.connectionId === 'string') return 'ndjson';
      if (typeof v.log === 'object') return 'har';
    } catch {
      // Not one JSON object on the first line.
    }
  }
  const ext = /\.([a-z0-9]+)$/i.exec(fileName)?.[1]?.toLowerCase();
  if (ext === 'har') return 'har';
  if (ext === 'ndjson' || ext === 'jsonl') return 'ndjson';
  if (ext === 'pcapng') return 'pcapng';
  if (ext === 'pcap' || ext === 'cap') return 'pcap';
  return undefined;
}

/** Reads `source` as `format` into `sink` (see readNdjson, readHar, readPcap). */
export function readSession(format: SessionFormat, source: SessionSource, sink: CaptureSink, options: SessionFileOptions = {}): Promise<SessionReadResult | PcapReadResult> {
  switch (format) {
    case 'ndjson':
      return readNdjson(source, sink, options);
    case 'har':
      return readHar(source, sink, options);
    default:
      return readPcap(source, sink, options);
  }
}

/**
 * Reads the session file at `path` into `sink`, streamed from disk: its format told by detectSessionFormat (or
 * `options.format`), its size given to the progress callback. Never throws: a file that can't be opened is
 * `SESSION_ERR_IO`, one of no known format `SESSION_ERR_FORMAT`.
 */
export async function readSessionFile(path: string, sink: CaptureSink, options: SessionFileOptions = {}): Promise<SessionReadResult | PcapReadResult> {
  const guess = options.format ?? detectSessionFormat(Buffer.alloc(0), path) ?? 'ndjson';
  let head: Buffer;
  let size: number;
  try {
    const fh = await fs.promises.open(path, 'r');
    try {
      size = (await fh.stat()).size;
      const buf = Buffer.alloc(Math.min(DETECT_BYTES, size));
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      head = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (e) {
    return failed(guess, sessionError('SESSION_ERR_IO', `could not open ${path}: ${(e as Error).message}`));
  }
  const format = options.format ?? detectSessionFormat(head, path);
  if (format === undefined) {
    const what = size === 0 ? 'the file is empty' : 'not an NDJSON or HAR export, nor a pcap or pcapng capture';
    return failed(guess, sessionError(size === 0 ? 'SESSION_ERR_NO_WEBSOCKETS' : 'SESSION_ERR_FORMAT', what, { offset: 0 }));
  }
  const stream = fs.createReadStream(path, { highWaterMark: options.chunkBytes ?? 1024 * 1024 });
  try {
    return await readSession(format, stream, sink, { ...options, totalBytes: options.totalBytes ?? size });
  } finally {
    stream.destroy();
  }
}

function failed(format: SessionFormat, error: SessionReadResult['error']): SessionReadResult {
  const p = new Problems();
  p.fail(error!);
  return { format, events: 0, connections: 0, bytesRead: 0, error: p.error, warnings: [], warningCount: 0 };
}
