// JSON Schema checks of received messages (an expect's `schema`), through Ajv: draft-07, all errors, formats not
// checked (they are annotations here: Ajv's format checks are a package of their own).

import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

let ajv: Ajv | undefined;
const compiled = new Map<string, ValidateFunction | string>();
/** Compiled schemas kept; a file with more is unusual, and an editor re-parsing as one types must not grow without end. */
const MAX_COMPILED = 256;

function instance(): Ajv {
  ajv ??= new Ajv({ allErrors: true, strict: false, validateFormats: false, logger: false });
  return ajv;
}

/** The compiled schema, or why it does not compile. */
function compile(schema: unknown): ValidateFunction | string {
  const key = JSON.stringify(schema);
  let v = compiled.get(key);
  if (v === undefined) {
    try {
      v = instance().compile(schema as object);
    } catch (err) {
      v = (err as Error).message;
    }
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, v);
  }
  return v;
}

/** Why `schema` is not a usable JSON Schema, or undefined when it is. */
export function schemaProblem(schema: unknown): string | undefined {
  if (typeof schema === 'boolean') return undefined;
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return 'a schema is a mapping (or true/false)';
  const v = compile(schema);
  return typeof v === 'string' ? v : undefined;
}

/** One way a value fails a schema: where (a JSON pointer, `/` for the whole) and what the schema wants there. */
export interface SchemaViolation {
  pointer: string;
  expected: string;
}

/** The violations of `value` against `schema` (empty when it passes). Throws for a schema that does not compile. */
export function checkSchema(schema: unknown, value: unknown): SchemaViolation[] {
  if (schema === true) return [];
  if (schema === false) return [{ pointer: '/', expected: 'nothing (the schema is false)' }];
  const v = compile(schema);
  if (typeof v === 'string') throw new Error(`invalid JSON Schema: ${v}`);
  if (v(value)) return [];
  // By place in the message, so that the expected and actual sides of a diff line up.
  return (v.errors ?? []).map(toViolation).sort((a, b) => (a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : 0));
}

function toViolation(e: ErrorObject): SchemaViolation {
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'required') return { pointer: `${e.instancePath}/${String(p.missingProperty)}`, expected: 'required: must be present' };
  if (e.keyword === 'additionalProperties') {
    return { pointer: `${e.instancePath}/${String(p.additionalProperty)}`, expected: 'must not be present (additionalProperties)' };
  }
  return { pointer: e.instancePath || '/', expected: `${e.keyword}: ${e.message ?? 'fails'}` };
}

/** The value a JSON pointer names in `root`, for showing what a violation found. */
export function atPointer(root: unknown, pointer: string): { found: boolean; value: unknown } {
  if (pointer === '/' || pointer === '') return { found: true, value: root };
  let v = root;
  for (const raw of pointer.split('/').slice(1)) {
    const k = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, k)) return { found: false, value: undefined };
    v = (v as Record<string, unknown>)[k];
  }
  return { found: true, value: v };
}
