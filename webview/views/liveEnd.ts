// Following the live end of the frames list: which scrolls are the user's (only those pause Auto-scroll), and the
// "N new ↓" button that counts the rows that arrived since it paused.
import { formatCount } from '../format';
import type { Row } from '../store';
import { el } from '../ui';

/** How long after a wheel turn, a key or a drag's end a scroll still counts as the user's. */
const INTENT_MS = 500;
/** The count stops here ("10,000+"): counting runs from the end on every update. */
const COUNT_CAP = 10_000;

/**
 * Whether a scroll is the user's: a wheel, a touch, a key or a drag of the scrollbar just happened in the viewport.
 * The browser's own scrolls, when the panel is hidden, shown or resized, or the theme changes the layout, are not.
 */
export class ScrollIntent {
  private until = 0;
  private pointerDown = false;

  constructor(viewport: HTMLElement) {
    const intent = () => (this.until = performance.now() + INTENT_MS);
    viewport.addEventListener('wheel', intent, { passive: true });
    viewport.addEventListener('touchmove', intent, { passive: true });
    viewport.addEventListener('keydown', intent);
    viewport.addEventListener('pointerdown', () => (this.pointerDown = true));
    window.addEventListener('pointerup', () => {
      if (this.pointerDown) intent();
      this.pointerDown = false;
    });
  }

  get active(): boolean {
    return this.pointerDown || performance.now() < this.until;
  }
}

/** The rows after `afterId`, counted from the end, up to COUNT_CAP. */
export function rowsAfter(rows: readonly Row[], afterId: number): number {
  let n = 0;
  for (let i = rows.length - 1; i >= 0 && n < COUNT_CAP && rows[i].id > afterId; i--) n++;
  return n;
}

/** `3 new ↓`, `10,000+ new ↓`. */
export function newRowsText(n: number): string {
  return `${n >= COUNT_CAP ? `${formatCount(COUNT_CAP)}+` : formatCount(n)} new ↓`;
}

/** The "N new ↓" button: shown while Auto-scroll is paused and rows arrived since; a click follows the live end. */
export class NewRowsButton {
  readonly el: HTMLButtonElement;
  /** The newest row's id when Auto-scroll paused: the rows after it are the new ones. */
  private pausedAtId = 0;

  constructor(onClick: () => void) {
    this.el = el('button', 'frames-new');
    this.el.type = 'button';
    this.el.hidden = true;
    this.el.addEventListener('click', onClick);
  }

  /** Auto-scroll paused with these rows held. */
  paused(rows: readonly Row[]): void {
    this.pausedAtId = rows[rows.length - 1]?.id ?? 0;
  }

  update(rows: readonly Row[], following: boolean): void {
    const n = following ? 0 : rowsAfter(rows, this.pausedAtId);
    this.el.hidden = n === 0;
    if (n === 0) return;
    const text = newRowsText(n);
    if (this.el.textContent === text) return;
    this.el.textContent = text;
    this.el.setAttribute('aria-label', `${text.replace(' ↓', '')} rows below: follow the live end (End)`);
  }
}
