// `${…}` references in a scenario file's strings: finding them (for the parser's checks) and filling them in.
//   ${name}          a variable of the file, a capture, a repeat's item; `${user.id}` reads into an object variable
//   ${env:NAME}      the environment (.env files, then the process environment over them)
//   ${secret:NAME}   a secret the host supplies (VS Code's SecretStorage; the CLI's environment); never logged
//   ${$.path}        a mock's reply: a JSON path into the message it answers
//   $${              a literal `${`

export type RefKind = 'var' | 'env' | 'secret' | 'path';

export interface Ref {
  kind: RefKind;
  name: string;
  /** Offsets of `${` and just after `}` in the string. */
  start: number;
  end: number;
}

export interface RefScan {
  refs: Ref[];
  /** A `${` without its `}`, or an empty or malformed name. */
  error?: { at: number; message: string };
}

const VAR_NAME = /^[A-Za-z_][\w-]*(?:\.[\w-]+)*$/;
const EXTERNAL_NAME = /^[A-Za-z_][\w.-]*$/;

/** Finds the references in `s`. */
export function scanRefs(s: string): RefScan {
  const refs: Ref[] = [];
  for (let i = s.indexOf('$'); i !== -1; i = s.indexOf('$', i + 1)) {
    if (s[i + 1] === '$' && s[i + 2] === '{') {
      i += 2;
      continue;
    }
    if (s[i + 1] !== '{') continue;
    const close = s.indexOf('}', i + 2);
    if (close === -1) return { refs, error: { at: i, message: 'a `${` without its closing `}`; write $${ for a literal ${' } };
    const body = s.slice(i + 2, close).trim();
    const ref = toRef(body, i, close + 1);
    if (typeof ref === 'string') return { refs, error: { at: i, message: ref } };
    refs.push(ref);
    i = close;
  }
  return { refs };
}

function toRef(body: string, start: number, end: number): Ref | string {
  if (body.startsWith('$')) return { kind: 'path', name: body, start, end };
  const colon = body.indexOf(':');
  if (colon !== -1) {
    const kind = body.slice(0, colon).trim();
    const name = body.slice(colon + 1).trim();
    if (kind !== 'env' && kind !== 'secret') return `unknown reference \`\${${body}}\`: expected \${name}, \${env:NAME} or \${secret:NAME}`;
    if (!EXTERNAL_NAME.test(name)) return `\`\${${body}}\` needs a name after "${kind}:", like \${${kind}:TOKEN}`;
    return { kind, name, start, end };
  }
  if (!VAR_NAME.test(body)) return `\`\${${body}}\` is not a variable name: expected letters, digits, _ or - (and dots into an object), like \${sessionId}`;
  return { kind: 'var', name: body, start, end };
}

/** A reference that cannot be filled in; the runner reports it as the step's failure. */
export class MissingValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingValueError';
  }
}

/** Gives the value of one reference, or throws MissingValueError. */
export type RefResolver = (ref: Ref) => unknown;

/** A value as it goes into text: strings as they are, the rest as JSON. */
export function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v) ?? String(v);
}

/** `s` with its references filled in and `$${` turned into `${`. */
export function interpolate(s: string, resolve: RefResolver): string {
  if (s.indexOf('$') === -1) return s;
  const { refs, error } = scanRefs(s);
  if (error) throw new MissingValueError(error.message);
  let out = '';
  let from = 0;
  for (const r of refs) {
    out += unescape(s.slice(from, r.start)) + valueText(resolve(r));
    from = r.end;
  }
  return out + unescape(s.slice(from));
}

function unescape(s: string): string {
  return s.indexOf('$${') === -1 ? s : s.split('$${').join('${');
}

/**
 * A JSON value with its strings filled in. A string that is one reference and nothing else takes the referenced
 * value as it is (a number stays a number, an object an object); keys are filled in as text.
 */
export function interpolateValue(v: unknown, resolve: RefResolver): unknown {
  if (typeof v === 'string') {
    if (v.startsWith('${') && v.endsWith('}')) {
      const { refs } = scanRefs(v);
      if (refs.length === 1 && refs[0].start === 0 && refs[0].end === v.length) return resolve(refs[0]);
    }
    return interpolate(v, resolve);
  }
  if (Array.isArray(v)) return v.map((x) => interpolateValue(x, resolve));
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[interpolate(k, resolve)] = interpolateValue(x, resolve);
    return o;
  }
  return v;
}

/** True when `v` (a JSON value as written) has a reference anywhere: one that has none can be computed once. */
export function hasRefs(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('${');
  if (Array.isArray(v)) return v.some(hasRefs);
  if (v !== null && typeof v === 'object') return Object.entries(v).some(([k, x]) => k.includes('${') || hasRefs(x));
  return false;
}
