// A cell of the frames table that writes to the DOM only what changed.

/**
 * One cell and the values last written to it: scroll steps refill every row, and writing a DOM property (even to its
 * current value) costs style and layout work, so only changes are written.
 */
export class Cell {
  private cls: string;
  private text = '';
  /** The cell's one text node: changing its data relays out the text without replacing the node and its layout object. */
  private readonly textNode = document.createTextNode('');
  private title = '';
  private label: string | undefined;

  constructor(readonly el: HTMLElement) {
    this.cls = el.className;
    el.appendChild(this.textNode);
  }

  set(cls: string, text: string, title = '', label?: string): void {
    const e = this.el;
    if (cls !== this.cls) e.className = this.cls = cls;
    if (text !== this.text) this.textNode.data = this.text = text;
    if (title !== this.title) {
      if (title) e.title = title;
      else e.removeAttribute('title');
      this.title = title;
    }
    if (label !== this.label) {
      if (label === undefined) e.removeAttribute('aria-label');
      else e.setAttribute('aria-label', label);
      this.label = label;
    }
  }
}

/** The direction cell: an arrow, and what it means for screen readers. */
export function setDir(cell: Cell, d: 'c2s' | 's2c' | undefined): void {
  cell.set(
    `cell dir ${d ?? ''}`,
    d === 'c2s' ? '↑' : d === 's2c' ? '↓' : '•',
    '',
    d === 'c2s' ? 'client to server' : d === 's2c' ? 'server to client' : 'event',
  );
}
