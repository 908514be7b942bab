// Small helpers on plain objects, shared by core and the extension.

/**
 * A copy of `o` without its undefined properties: spread over defaults, an option given as `undefined` keeps the
 * default; in a message, an absent field is not sent as `undefined`.
 */
export function stripUndefined<T extends object>(o: T): T {
  const r: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) r[k] = v;
  return r as T;
}
