// Checks on what a DevTools peer sends: the protocol's types say what should come, these what did.

/** `x` when it is an object, as the protocol says; undefined when the peer sent something else. */
export function objectOr<T extends object>(x: T | null | undefined): T | undefined {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? x : undefined;
}

export function isNum(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

const timeOrigin = performance.timeOrigin;

/** Epoch ms, on the clock of the capture events. */
export const now = (): number => timeOrigin + performance.now();
