// The ids events had in a file, to the ids the sink gives them: messages name their frames, and a closed connection its
// unsent frames and messages, by id.

/**
 * Kept as runs of consecutive ids that map to consecutive ids, so a file whose ids increase (every export does) costs
 * one run per gap in its ids, not one entry per event. Ids out of order fall back to a map.
 */
export class IdMap {
  private readonly oldStart: number[] = [];
  private readonly newStart: number[] = [];
  private readonly length: number[] = [];
  private readonly outOfOrder = new Map<number, number>();

  set(oldId: number, newId: number): void {
    const n = this.oldStart.length;
    if (n > 0) {
      const last = n - 1;
      const end = this.oldStart[last] + this.length[last];
      if (oldId === end && newId === this.newStart[last] + this.length[last]) {
        this.length[last]++;
        return;
      }
      if (oldId < end) {
        this.outOfOrder.set(oldId, newId);
        return;
      }
    }
    this.oldStart.push(oldId);
    this.newStart.push(newId);
    this.length.push(1);
  }

  get(oldId: number): number | undefined {
    if (this.outOfOrder.size > 0) {
      const v = this.outOfOrder.get(oldId);
      if (v !== undefined) return v;
    }
    let lo = 0;
    let hi = this.oldStart.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const start = this.oldStart[mid];
      if (oldId < start) hi = mid - 1;
      else if (oldId >= start + this.length[mid]) lo = mid + 1;
      else return this.newStart[mid] + (oldId - start);
    }
    return undefined;
  }

  /** `ids` mapped; ids the file never gave (evicted before the export, or filtered out) are left out. */
  mapAll(ids: readonly number[]): number[] {
    const out: number[] = [];
    for (const id of ids) {
      const v = this.get(id);
      if (v !== undefined) out.push(v);
    }
    return out;
  }

  /** Runs held, for tests and the bench: 1 for a file with consecutive ids. */
  get runs(): number {
    return this.oldStart.length;
  }
}
