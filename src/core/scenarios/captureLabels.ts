// A capture sink in front of another that labels a scenario's connections (their `connection` events get the
// scenario, the step and the connection's name in `meta`, as the inspector shows them) and notes the ids of the
// events of each step.

import type { CaptureEvent, CaptureSink, NewCaptureEvent } from '../capture/events';
import type { SecretMasker } from './secrets';

export interface LabellingSink {
  readonly sink: CaptureSink;
  /** Labels for the capture connections of the ClientConnection `clientId` (`o7` labels `o7.1`, `o7.2`…). */
  label(clientId: string, meta: Record<string, string>): void;
  /** Starts noting the ids of a step's events (steps nest: a repeat and the steps inside it). */
  beginStep(): void;
  /** The ids of the events that went through since the matching beginStep(), if any. */
  endStep(): { firstId: number; lastId: number } | undefined;
}

/**
 * Wraps `inner`, offering exactly the optional methods it offers (the capture picks its path by their presence). With a
 * `masker`, the secrets in the labelled connections' URLs, labels and upgrade requests are masked before they are
 * stored (payloads are kept as they were sent: they are what the user inspects; exports mask them, see SecretMasker).
 */
export function labellingSink(inner: CaptureSink, masker?: SecretMasker): LabellingSink {
  const labels = new Map<string, Record<string, string>>();
  let lastId = 0;
  /** The first id of each step running now (a repeat and the step inside it); 0 before its first event. */
  const open: number[] = [];
  const note = (id: number) => {
    for (let i = open.length - 1; i >= 0 && open[i] === 0; i--) open[i] = id;
    if (id > lastId) lastId = id;
    return id;
  };
  const sink: CaptureSink = {
    append(e: NewCaptureEvent): number {
      if (e.kind === 'connection' || e.kind === 'handshake') {
        const dot = e.connectionId.indexOf('.');
        const l = labels.get(dot === -1 ? e.connectionId : e.connectionId.slice(0, dot));
        if (l) {
          const labelled = e.kind === 'connection' ? { ...e, meta: { ...e.meta, ...l } } : e;
          const masked = masker && masker.size > 0 ? (masker.event(labelled as CaptureEvent) as NewCaptureEvent) : labelled;
          return note(inner.append(masked));
        }
      }
      return note(inner.append(e));
    },
  };
  if (inner.seal) sink.seal = () => inner.seal!();
  if (inner.reserveBytes) sink.reserveBytes = (n) => inner.reserveBytes!(n);
  if (inner.framesInLastBytes) sink.framesInLastBytes = (c, d, b, a) => inner.framesInLastBytes!(c, d, b, a);
  if (inner.appendWholeFrame) {
    // The message's id is the frame's plus one (see CaptureSink.appendWholeFrame).
    sink.appendWholeFrame = (c, time, d, op, bytes, at, hl, pl, also) => {
      const id = note(inner.appendWholeFrame!(c, time, d, op, bytes, at, hl, pl, also));
      note(id + 1);
      return id;
    };
  }
  return {
    sink,
    label: (clientId, meta) => labels.set(clientId, { ...labels.get(clientId), ...meta }),
    beginStep: () => {
      open.push(0);
    },
    endStep: () => {
      const firstId = open.pop() ?? 0;
      return firstId === 0 ? undefined : { firstId, lastId };
    },
  };
}
