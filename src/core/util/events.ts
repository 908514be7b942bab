// An event emitter with VS Code's `Event<T>` signature, so core code speaks the editor's idiom
// without importing `vscode`.

export interface Disposable {
  dispose(): void;
}

export type Event<T> = (listener: (e: T) => void) => Disposable;

let unexpectedErrorHandler: (err: unknown) => void = (err) => console.error('[ws-inspector] listener failed:', err);

/**
 * Where a throwing listener's error goes. The extension routes it to its log. It is never rethrown: an uncaught
 * exception in a socket callback would take down the whole process (or extension host).
 */
export function setUnexpectedErrorHandler(handler: (err: unknown) => void): void {
  unexpectedErrorHandler = handler;
}

export function onUnexpectedError(err: unknown): void {
  try {
    unexpectedErrorHandler(err);
  } catch {
    // The handler itself failed; there is nowhere left to report to.
  }
}

export class Emitter<T> implements Disposable {
  private listeners = new Set<(e: T) => void>();
  private disposed = false;

  /** Subscribe; the returned Disposable removes the listener. */
  readonly event: Event<T> = (listener) => {
    if (this.disposed) return { dispose() {} };
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };

  /** Calls every listener; one that throws does not stop the others (an inspector must keep recording). */
  fire(e: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        onUnexpectedError(err);
      }
    }
  }

  get hasListeners(): boolean {
    return this.listeners.size > 0;
  }

  dispose(): void {
    this.disposed = true;
    this.listeners.clear();
  }
}

/**
 * Owns disposables. Adding to an owner that is already disposed disposes the item at once,
 * so a late listener can never leak.
 */
export class DisposableStore implements Disposable {
  private items = new Set<Disposable>();
  private disposed = false;

  add<T extends Disposable>(item: T): T {
    if (this.disposed) item.dispose();
    else this.items.add(item);
    return item;
  }

  /** Registers `emitter.on(event, fn)` and its removal. */
  on(emitter: NodeJS.EventEmitter, event: string | symbol, // eslint-disable-next-line @typescript-eslint/no-explicit-any
    fn: (...args: any[]) => void): Disposable {
    emitter.on(event, fn);
    return this.add({ dispose: () => emitter.removeListener(event, fn) });
  }

  timeout(fn: () => void, ms: number): Disposable {
    const t = setTimeout(fn, ms);
    return this.add({ dispose: () => clearTimeout(t) });
  }

  interval(fn: () => void, ms: number): Disposable {
    const t = setInterval(fn, ms);
    return this.add({ dispose: () => clearInterval(t) });
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const items = [...this.items];
    this.items.clear();
    for (const d of items.reverse()) {
      try {
        d.dispose();
      } catch {
        // One failing dispose must not keep the rest alive.
      }
    }
  }
}
