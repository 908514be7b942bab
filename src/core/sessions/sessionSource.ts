// The input side every reader shares: chunks from any byte stream, progress, cancellation, and a sink that counts.
import type { CaptureSink, Direction, NewCaptureEvent, UnsentRecord } from '../capture/events';
import { Problems, type SessionFormat, type SessionReadResult, sessionError } from './sessionErrors';

/**
 * The bytes of a session file: a Node Readable (fs.createReadStream), any async iterable of chunks, or an array of
 * them (`[bytes]` for a file already in memory, as vscode.workspace.fs.readFile gives it).
 */
export type SessionSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface ReadOptions {
  /** The source's size in bytes, for progress (fs.stat's size). */
  totalBytes?: number;
  /** Called after each chunk with the bytes read so far, and the total when known. */
  onProgress?(bytesRead: number, totalBytes: number | undefined): void;
  /** Stops the reading between chunks; the result's error is then `SESSION_ERR_ABORTED`. */
  signal?: AbortSignal;
}

/** A reader's work on one chunk: returns false to stop reading (its error is already in `problems`). */
export type ChunkHandler = (chunk: Buffer, offset: number) => boolean;

/**
 * Feeds `source` to `onChunk` a chunk at a time, with progress and cancellation. Returns the bytes read and whether
 * the whole source was read; an abort, a failing source or a throwing handler is an error in `problems`, never thrown.
 */
export async function readChunks(source: SessionSource, o: ReadOptions, problems: Problems, onChunk: ChunkHandler): Promise<{ bytesRead: number; complete: boolean }> {
  let bytesRead = 0;
  const aborted = () => {
    problems.fail(sessionError('SESSION_ERR_ABORTED', `reading was cancelled after ${bytesRead} bytes`, { offset: bytesRead }));
    return { bytesRead, complete: false };
  };
  if (o.signal?.aborted) return aborted();
  try {
    // Leaving the loop early (break, return) closes the source: a file stream is destroyed.
    for await (const raw of source) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      const at = bytesRead;
      bytesRead += chunk.length;
      let go: boolean;
      try {
        go = onChunk(chunk, at);
      } catch (e) {
        problems.fail(sessionError('SESSION_ERR_INTERNAL', `reader failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, { offset: at }));
        return { bytesRead, complete: false };
      }
      o.onProgress?.(bytesRead, o.totalBytes);
      if (!go) return { bytesRead, complete: false };
      if (o.signal?.aborted) return aborted();
    }
  } catch (e) {
    if (o.signal?.aborted) return aborted();
    const err = e as NodeJS.ErrnoException;
    problems.fail(sessionError('SESSION_ERR_IO', `could not read the file: ${err.message ?? String(e)}`, { offset: bytesRead }));
    return { bytesRead, complete: false };
  }
  return { bytesRead, complete: true };
}

/**
 * Passes events to a sink and counts them, and the connections among them. It offers the sink's own fast paths
 * (reserveBytes, seal, appendWholeFrame, framesInLastBytes) only when the sink has them, so a capture fed through it
 * behaves as on the sink itself.
 */
export class CountingSink implements CaptureSink {
  events = 0;
  private readonly connectionIds = new Set<string>();
  readonly seal?: () => void;
  readonly reserveBytes?: (n: number) => Buffer | undefined;
  readonly framesInLastBytes?: CaptureSink['framesInLastBytes'];
  readonly appendWholeFrame?: CaptureSink['appendWholeFrame'];

  constructor(private readonly sink: CaptureSink) {
    if (sink.seal) this.seal = () => sink.seal!();
    if (sink.reserveBytes) this.reserveBytes = (n) => sink.reserveBytes!(n);
    if (sink.framesInLastBytes) {
      this.framesInLastBytes = (id: string, d: Direction, bytes: number, afterId: number): Pick<UnsentRecord, 'frameIds' | 'messageIds'> =>
        sink.framesInLastBytes!(id, d, bytes, afterId);
    }
    if (sink.appendWholeFrame) {
      this.appendWholeFrame = (...args) => {
        this.events += 2;
        return sink.appendWholeFrame!(...args);
      };
    }
  }

  get connections(): number {
    return this.connectionIds.size;
  }

  append(event: NewCaptureEvent): number {
    this.events++;
    if (event.kind === 'handshake' || event.kind === 'connection') this.connectionIds.add(event.connectionId);
    return this.sink.append(event);
  }
}

/** The result of a reader from what it counted. */
export function readResult(format: SessionFormat, sink: CountingSink, bytesRead: number, problems: Problems): SessionReadResult {
  const r: SessionReadResult = {
    format,
    events: sink.events,
    connections: sink.connections,
    bytesRead,
    warnings: problems.warnings,
    warningCount: problems.warningCount,
  };
  if (problems.error !== undefined) r.error = problems.error;
  return r;
}
