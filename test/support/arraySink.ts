// A capture sink that keeps every event, for tests that read what a capture recorded.
import { type CaptureEvent, type CaptureSink, type Direction, type NewCaptureEvent, framesInLastBytes } from '../../src/core/capture/events';

/**
 * A sink that keeps every event, and gives a message's frames its id as the EventStore does (from its frameIds): in
 * records of its own, copies, since an appended event is never changed.
 */
export class ArraySink implements CaptureSink {
  events: CaptureEvent[] = [];
  append(e: NewCaptureEvent): number {
    const ev = e as CaptureEvent;
    ev.id = this.events.length + 1;
    this.events.push(ev);
    if (ev.kind === 'message') {
      for (const fid of ev.frameIds) {
        const f = this.events[fid - 1];
        if (f?.kind === 'frame') this.events[fid - 1] = { ...f, messageId: ev.id };
      }
    }
    return ev.id;
  }
  framesInLastBytes(connectionId: string, direction: Direction, bytes: number, afterId: number): { frameIds: number[]; messageIds: number[] } {
    return framesInLastBytes((id) => this.events[id - 1], this.events.length, afterId, connectionId, direction, bytes);
  }
  kinds(): string[] {
    return this.events.map((e) => (e.kind === 'connection' ? `connection:${e.state}` : e.kind));
  }
  of<K extends CaptureEvent['kind']>(kind: K): Array<Extract<CaptureEvent, { kind: K }>> {
    return this.events.filter((e) => e.kind === kind) as Array<Extract<CaptureEvent, { kind: K }>>;
  }
}

/** A new ArraySink. */
export function arraySink(): ArraySink {
  return new ArraySink();
}
