// An expect step's wait: the connection's next messages against one or several matchers, in order or not, with or
// without others in between, within a time.

import { describeMatcher, mismatch, showReceived, type Mismatch, type Received, type ResolvedMatcher } from './match';
import type { ExpectStep } from './model';
import { StepFailure } from './results';
import type { ScenarioConnection } from './scenarioConnection';

/** Skipped messages a time-out shows (the newest). */
const SHOWN_SKIPPED = 5;

/** Takes messages from `c` until every matcher has matched one; returns the last matched. Throws a StepFailure. */
export async function expectMessages(
  c: ScenarioConnection,
  matchers: readonly ResolvedMatcher[],
  step: Pick<ExpectStep, 'ordered' | 'allowOthers'>,
  ms: number,
  signal?: AbortSignal,
): Promise<Received> {
  const remaining = matchers.map((_, i) => i);
  const skipped: Received[] = [];
  const deadline = performance.now() + ms;
  let last: Received | undefined;
  for (;;) {
    for (let m = c.take(); m !== undefined; m = c.take()) {
      const candidates = step.ordered ? remaining.slice(0, 1) : remaining;
      let miss: Mismatch | undefined;
      const hit = candidates.find((i) => {
        const mm = mismatch(matchers[i], m!);
        miss ??= mm;
        return mm === undefined;
      });
      if (hit !== undefined) {
        remaining.splice(remaining.indexOf(hit), 1);
        last = m;
        if (remaining.length === 0) return last;
        continue;
      }
      if (!step.allowOthers) throw strictFailure(c, matchers, remaining, miss!);
      skipped.push(m);
    }
    if (signal?.aborted) throw new StepFailure('cancelled');
    if (c.closed) {
      const what = c.closed.error ? `${c.closed.code}: ${c.closed.error.message}` : `${c.closed.code}${c.closed.reason ? ` "${c.closed.reason}"` : ''}`;
      throw new StepFailure(`"${c.name}" closed (${what}) before ${awaited(matchers, remaining)} came`, expectedText(matchers, remaining), actualText(skipped, `connection closed: ${what}`));
    }
    const left = deadline - performance.now();
    if (left <= 0) {
      const others = skipped.length === 0 ? 'nothing else came' : `${skipped.length} other message${skipped.length === 1 ? '' : 's'} came and ${skipped.length === 1 ? 'was' : 'were'} skipped`;
      throw new StepFailure(`timed out after ${ms} ms waiting on "${c.name}" for ${awaited(matchers, remaining)}: ${others}`, expectedText(matchers, remaining), actualText(skipped, '(nothing received)'));
    }
    await c.changed(left, signal);
  }
}

function awaited(matchers: readonly ResolvedMatcher[], remaining: readonly number[]): string {
  if (matchers.length === 1) return 'the expected message';
  return `${remaining.length} of the ${matchers.length} expected messages`;
}

function strictFailure(c: ScenarioConnection, matchers: readonly ResolvedMatcher[], remaining: readonly number[], miss: Mismatch): StepFailure {
  const which = matchers.length === 1 ? 'the expected one' : `expected message ${remaining[0] + 1} of ${matchers.length}`;
  return new StepFailure(`the next message on "${c.name}" is not ${which}: ${miss.reason} (set allowOthers: true to skip other messages)`, miss.expected, miss.actual);
}

function expectedText(matchers: readonly ResolvedMatcher[], remaining: readonly number[]): string {
  return remaining.map((i) => describeMatcher(matchers[i])).join('\n---\n');
}

function actualText(skipped: readonly Received[], none: string): string {
  if (skipped.length === 0) return none;
  const shown = skipped.slice(-SHOWN_SKIPPED).map(showReceived);
  return (skipped.length > SHOWN_SKIPPED ? `(${skipped.length - SHOWN_SKIPPED} earlier not shown)\n---\n` : '') + shown.join('\n---\n');
}
