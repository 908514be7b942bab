// Problems in a scenario file, each at its place in the text, with a stable code (the WS_ERR_* style of wire/errors.ts).

/** Where something is in the file's text. Lines and columns count from 1, as editors show them; offsets from 0. */
export interface SourceRange {
  /** Character offset of the start (0-based; the extension can use `document.positionAt(offset)`). */
  offset: number;
  /** Characters covered (at least 1 where the text has any). */
  length: number;
  /** 1-based line and column of the start. */
  line: number;
  column: number;
  /** 1-based line and column just after the end. */
  endLine: number;
  endColumn: number;
}

/**
 * Codes in use:
 * - `WSX_YAML`: the text is not valid YAML (or JSON); `WSX_EMPTY`: no document at all
 * - `WSX_UNKNOWN_KEY`: a key this place does not take; `WSX_UNKNOWN_STEP`: a step that is none of the step kinds
 * - `WSX_REQUIRED`: a required key is missing; `WSX_TYPE`: a value of the wrong type; `WSX_CONFLICT`: keys that
 *   exclude each other
 * - `WSX_MISSING_VARIABLE`: `${name}` that nothing defines at that point; `WSX_VARIABLE_CYCLE`
 * - `WSX_UNKNOWN_ENDPOINT`, `WSX_UNKNOWN_MESSAGE`, `WSX_UNKNOWN_CONNECTION`: a name that is not defined
 * - `WSX_BAD_REGEX`, `WSX_BAD_JSON_PATH`, `WSX_BAD_SCHEMA`, `WSX_BAD_HEX`, `WSX_BAD_BASE64`, `WSX_BAD_DURATION`,
 *   `WSX_BAD_URL`, `WSX_BAD_CLOSE_CODE`: a value of the right type that cannot be used
 * - `WSX_DUPLICATE`: a name given twice; `WSX_NO_MOCK`: `mock: true` in a file without a `mock` section
 * - `WSX_ENV_MISSING` (warning): `${env:NAME}` that is set neither in the environment nor in a .env file
 */
export type DiagnosticCode =
  | 'WSX_YAML'
  | 'WSX_EMPTY'
  | 'WSX_UNKNOWN_KEY'
  | 'WSX_UNKNOWN_STEP'
  | 'WSX_REQUIRED'
  | 'WSX_TYPE'
  | 'WSX_CONFLICT'
  | 'WSX_MISSING_VARIABLE'
  | 'WSX_VARIABLE_CYCLE'
  | 'WSX_UNKNOWN_ENDPOINT'
  | 'WSX_UNKNOWN_MESSAGE'
  | 'WSX_UNKNOWN_CONNECTION'
  | 'WSX_BAD_REGEX'
  | 'WSX_BAD_JSON_PATH'
  | 'WSX_BAD_SCHEMA'
  | 'WSX_BAD_HEX'
  | 'WSX_BAD_BASE64'
  | 'WSX_BAD_DURATION'
  | 'WSX_BAD_URL'
  | 'WSX_BAD_CLOSE_CODE'
  | 'WSX_DUPLICATE'
  | 'WSX_NO_MOCK'
  | 'WSX_ENV_MISSING';

export interface Diagnostic extends SourceRange {
  severity: 'error' | 'warning';
  code: DiagnosticCode;
  /** What is wrong and what is expected there. */
  message: string;
}

/** Offsets to lines: the start offset of every line of a text. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(private readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }

  /** 1-based line and column of `offset`. */
  pos(offset: number): { line: number; column: number } {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: o - this.starts[lo] + 1 };
  }

  range(start: number, end: number): SourceRange {
    const s = this.pos(start);
    const e = this.pos(Math.max(end, start));
    return { offset: start, length: Math.max(0, end - start), line: s.line, column: s.column, endLine: e.line, endColumn: e.column };
  }
}

/** The one constructor for a scenario file's problems. */
export function createDiagnostic(range: SourceRange, code: DiagnosticCode, message: string, severity: Diagnostic['severity'] = 'error'): Diagnostic {
  return { ...range, severity, code, message };
}

/** `file:line:column: error CODE message`, as compilers print it (the CLI's form). */
export function formatDiagnostic(d: Diagnostic, file: string): string {
  return `${file}:${d.line}:${d.column}: ${d.severity} ${d.code} ${d.message}`;
}
