// A streaming reader of one large JSON document that parses only the values asked for, one at a time: a HAR's
// entries and each of their WebSocket messages, never the whole file. A state machine over bytes in the style of ws's
// Receiver: any chunking gives the same values.
import { type SessionError, sessionError } from './sessionErrors';

export type PathItem = string | number;

/** For the value at a path: walk into it (an object or array), pick it (parse it whole and hand it over), or skip it. */
export type Decision = 'walk' | 'pick' | 'skip';

export interface JsonPickerHandler {
  /** Asked at the start of each value inside a walked container (and of the root). A scalar asked to be walked is picked. */
  decide(path: readonly PathItem[]): Decision;
  /** A picked value, parsed. Throwing stops the reading (the caller's own error). */
  onValue(path: readonly PathItem[], value: unknown): void;
  /** A walked container's start and end. */
  onEnter?(path: readonly PathItem[]): void;
  onLeave?(path: readonly PathItem[]): void;
}

const VALUE = 0;
const OBJECT_FIRST = 1;
const KEY_NEXT = 2;
const KEY = 3;
const COLON = 4;
const NEXT_OR_END = 5;
const ARRAY_FIRST = 6;
const RAW = 7;
const DONE = 8;
const FAILED = 9;

const RAW_STRING = 0;
const RAW_CONTAINER = 1;
const RAW_SCALAR = 2;

const BOM = [0xef, 0xbb, 0xbf];
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const MAX_KEY_BYTES = 64 * 1024;

export class JsonPicker {
  private state = VALUE;
  private readonly path: PathItem[] = [];
  /** Per walked container: whether it is an array. */
  private readonly arrays: boolean[] = [];
  /** Index of the current element, per walked array (parallel to `arrays`). */
  private readonly indexes: number[] = [];
  private offset = 0;

  // The value being scanned whole (RAW) or the key being read.
  private rawKind = RAW_STRING;
  private rawDepth = 0;
  private inString = false;
  /** Backslashes just before the end of the last chunk, inside a string: an odd count escapes the next quote. */
  private backslashes = 0;
  private capture = false;
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  private tooLarge = false;
  private rawStart = 0;

  constructor(
    private readonly handler: JsonPickerHandler,
    /** A picked value longer than this is skipped with a `SESSION_ERR_TOO_LARGE` warning. */
    private readonly maxValueBytes: number,
    private readonly warn: (e: SessionError) => void,
  ) {}

  /** Reads the next bytes; returns an error when the document can't be read on (then stop). */
  push(chunk: Buffer): SessionError | undefined {
    let i = 0;
    const n = chunk.length;
    try {
      while (i < n && this.state !== FAILED) i = this.step(chunk, i);
      if (this.state === RAW || this.state === KEY) this.keepPiece(chunk, this.rawStart, n);
    } catch (e) {
      this.state = FAILED;
      this.offset += n;
      if (isSessionError(e)) return e;
      throw e;
    }
    this.rawStart = 0;
    this.offset += n;
    return undefined;
  }

  /** The source has ended: an error unless the document was complete. */
  end(): SessionError | undefined {
    if (this.state === DONE || this.state === FAILED) return undefined;
    if (this.offset === 0 || (this.state === VALUE && this.path.length === 0 && this.arrays.length === 0)) {
      return sessionError('SESSION_ERR_FORMAT', 'the file holds no JSON document', { offset: this.offset });
    }
    return sessionError('SESSION_ERR_TRUNCATED', `the file ends inside the JSON document (after ${this.offset} bytes)`, { offset: this.offset });
  }

  private step(b: Buffer, i: number): number {
    switch (this.state) {
      case RAW:
        return this.scanRaw(b, i);
      case KEY:
        return this.scanKey(b, i);
      default:
        break;
    }
    const c = b[i];
    if (isSpace(c)) return i + 1;
    // A byte order mark before the document (some HAR writers put one).
    if (this.offset + i < 3 && c === BOM[this.offset + i] && this.state === VALUE && this.arrays.length === 0) return i + 1;
    switch (this.state) {
      case VALUE:
        return this.startValue(b, i);
      case OBJECT_FIRST:
        if (c === 0x7d) return this.close(b, i, false);
        return this.startKey(b, i);
      case KEY_NEXT:
        return this.startKey(b, i);
      case COLON:
        if (c !== 0x3a) throw this.unexpected(b, i, "':'");
        this.state = VALUE;
        return i + 1;
      case ARRAY_FIRST:
        if (c === 0x5d) return this.close(b, i, true);
        this.path.push(0);
        this.state = VALUE;
        return i;
      case NEXT_OR_END:
        return this.next(b, i);
      default:
        // DONE: only whitespace may follow.
        throw this.unexpected(b, i, 'the end of the document');
    }
  }

  private startValue(b: Buffer, i: number): number {
    const c = b[i];
    const d = this.handler.decide(this.path);
    if ((c === 0x7b || c === 0x5b) && d === 'walk') {
      const array = c === 0x5b;
      this.arrays.push(array);
      this.indexes.push(0);
      this.handler.onEnter?.(this.path);
      this.state = array ? ARRAY_FIRST : OBJECT_FIRST;
      return i + 1;
    }
    if (this.arrays.length === 0 && c !== 0x7b && c !== 0x5b) throw this.unexpected(b, i, 'a JSON object');
    this.state = RAW;
    this.capture = d !== 'skip';
    this.pieces = [];
    this.pieceBytes = 0;
    this.tooLarge = false;
    this.rawStart = i;
    if (c === QUOTE) {
      this.rawKind = RAW_STRING;
      this.inString = true;
      this.backslashes = 0;
      return i + 1;
    }
    if (c === 0x7b || c === 0x5b) {
      this.rawKind = RAW_CONTAINER;
      this.rawDepth = 1;
      this.inString = false;
      return i + 1;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e) {
      this.rawKind = RAW_SCALAR;
      return i + 1;
    }
    throw this.unexpected(b, i, 'a value');
  }

  private startKey(b: Buffer, i: number): number {
    if (b[i] !== QUOTE) throw this.unexpected(b, i, 'a key');
    this.state = KEY;
    this.capture = true;
    this.pieces = [];
    this.pieceBytes = 0;
    this.tooLarge = false;
    this.backslashes = 0;
    this.rawStart = i;
    return i + 1;
  }

  private scanKey(b: Buffer, i: number): number {
    const end = this.stringEnd(b, i);
    if (end < 0) return b.length;
    this.keepPiece(b, this.rawStart, end + 1);
    if (this.pieceBytes > MAX_KEY_BYTES) throw sessionError('SESSION_ERR_TOO_LARGE', `a key longer than ${MAX_KEY_BYTES} bytes`, { offset: this.offset + i });
    const key = JSON.parse(Buffer.concat(this.pieces, this.pieceBytes).toString('utf8')) as string;
    this.pieces = [];
    this.path.push(key);
    this.state = COLON;
    return end + 1;
  }

  /** Where the open string ends (its closing quote) in `b` from `i`, or -1 when it goes on past `b`. */
  private stringEnd(b: Buffer, i: number): number {
    let from = i;
    for (;;) {
      const q = b.indexOf(QUOTE, from);
      if (q === -1) {
        let run = 0;
        for (let k = b.length - 1; k >= from && b[k] === BACKSLASH; k--) run++;
        this.backslashes = run === b.length - from ? this.backslashes + run : run;
        return -1;
      }
      let run = 0;
      let k = q - 1;
      while (k >= from && b[k] === BACKSLASH) {
        run++;
        k--;
      }
      if (k < from) run += this.backslashes;
      this.backslashes = 0;
      if ((run & 1) === 0) return q;
      from = q + 1;
    }
  }

  private scanRaw(b: Buffer, i: number): number {
    const n = b.length;
    if (this.rawKind === RAW_STRING) {
      const end = this.stringEnd(b, i);
      return end < 0 ? n : this.finishRaw(b, this.rawStart, end + 1);
    }
    if (this.rawKind === RAW_SCALAR) {
      for (; i < n; i++) {
        const c = b[i];
        if (c === 0x2c || c === 0x7d || c === 0x5d || isSpace(c)) return this.finishRaw(b, this.rawStart, i);
      }
      return n;
    }
    while (i < n) {
      if (this.inString) {
        const end = this.stringEnd(b, i);
        if (end < 0) return n;
        this.inString = false;
        i = end + 1;
        continue;
      }
      const c = b[i++];
      if (c === QUOTE) {
        this.inString = true;
        this.backslashes = 0;
      } else if (c === 0x7b || c === 0x5b) {
        this.rawDepth++;
      } else if ((c === 0x7d || c === 0x5d) && --this.rawDepth === 0) {
        return this.finishRaw(b, this.rawStart, i);
      }
    }
    return n;
  }

  private keepPiece(b: Buffer, from: number, to: number): void {
    if (!this.capture || this.tooLarge || to <= from) return;
    if (this.pieceBytes + (to - from) > this.maxValueBytes && this.state === RAW) {
      this.tooLarge = true;
      this.pieces = [];
      this.warn(sessionError('SESSION_ERR_TOO_LARGE', `the value at ${this.path.join('.')} is longer than ${this.maxValueBytes} bytes: skipped`, { offset: this.offset + from }));
      return;
    }
    // A copy: the chunk is the source's, and one kept slice would keep all of it.
    this.pieces.push(Buffer.from(b.subarray(from, to)));
    this.pieceBytes += to - from;
  }

  /** The raw value ends before `end`: parse and hand it over when picked. */
  private finishRaw(b: Buffer, from: number, end: number): number {
    if (this.capture && !this.tooLarge) {
      this.keepPiece(b, from, end);
      if (!this.tooLarge) {
        const text = (this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces, this.pieceBytes)).toString('utf8');
        this.pieces = [];
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (e) {
          throw sessionError('SESSION_ERR_FORMAT', `malformed JSON at ${this.path.join('.')}: ${(e as Error).message}`, { offset: this.offset + from });
        }
        this.handler.onValue(this.path, value);
      }
    }
    this.pieces = [];
    this.valueDone();
    return end;
  }

  private valueDone(): void {
    if (this.arrays.length === 0) {
      this.state = DONE;
      return;
    }
    this.path.pop();
    this.state = NEXT_OR_END;
  }

  private next(b: Buffer, i: number): number {
    const c = b[i];
    const array = this.arrays[this.arrays.length - 1];
    if (c === 0x2c) {
      if (array) {
        const top = this.indexes.length - 1;
        this.path.push(++this.indexes[top]);
        this.state = VALUE;
      } else {
        this.state = KEY_NEXT;
      }
      return i + 1;
    }
    if ((c === 0x7d && !array) || (c === 0x5d && array)) return this.close(b, i, array);
    throw this.unexpected(b, i, array ? "',' or ']'" : "',' or '}'");
  }

  private close(b: Buffer, i: number, array: boolean): number {
    if (this.arrays[this.arrays.length - 1] !== array) throw this.unexpected(b, i, 'a value');
    this.handler.onLeave?.(this.path);
    this.arrays.pop();
    this.indexes.pop();
    this.valueDone();
    return i + 1;
  }

  private unexpected(b: Buffer, i: number, expected: string): SessionError {
    const at = this.offset + i;
    return sessionError('SESSION_ERR_FORMAT', `malformed JSON at byte ${at}: ${JSON.stringify(String.fromCharCode(b[i]))} where ${expected} was expected`, { offset: at });
  }
}

function isSessionError(e: unknown): e is SessionError {
  return typeof e === 'object' && e !== null && typeof (e as SessionError).code === 'string' && (e as SessionError).code.startsWith('SESSION_ERR_');
}
