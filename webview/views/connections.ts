// The connections list (pick one or all) and the server's clients table.
import type { ProxyCompressionDto } from '../../src/shared/breakpointsProtocol';
import type { ConnectionRow, ModelSnapshot } from '../../src/shared/protocol';
import { compressionShort, compressionTooltip } from '../compressionText';
import { formatAbsolute, formatBytes, formatCount, oneLine } from '../format';
import { button, el } from '../ui';

const STATE_ICON: Record<ConnectionRow['state'], string> = {
  connecting: '◌',
  open: '●',
  closing: '◐',
  closed: '○',
  reconnecting: '↻',
  failed: '✕',
};

export class ConnectionsList {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private selected: string | undefined;

  constructor(
    selected: string | undefined,
    private readonly onPick: (id: string | undefined) => void,
  ) {
    this.selected = selected;
    this.el = el('nav', 'connections');
    this.el.setAttribute('aria-label', 'Connections');
    this.el.appendChild(el('h2', undefined, 'Connections'));
    this.list = el('ul');
    this.list.setAttribute('role', 'listbox');
    this.list.setAttribute('aria-label', 'Connections: pick one or all');
    this.list.tabIndex = 0;
    this.list.addEventListener('click', (e) => {
      const li = (e.target as HTMLElement).closest<HTMLElement>('li');
      if (li) this.pick(li.dataset.id || undefined);
    });
    this.list.addEventListener('keydown', (e) => this.onKey(e));
    this.el.appendChild(this.list);
  }

  private items(): HTMLElement[] {
    return [...this.list.querySelectorAll<HTMLElement>('li')];
  }

  private onKey(e: KeyboardEvent): void {
    const items = this.items();
    let i = items.findIndex((x) => (x.dataset.id || undefined) === this.selected);
    if (e.key === 'ArrowDown') i = Math.min(items.length - 1, i + 1);
    else if (e.key === 'ArrowUp') i = Math.max(0, i - 1);
    else return;
    e.preventDefault();
    this.pick(items[i]?.dataset.id || undefined);
  }

  /** Picks a connection as if the user had clicked it. */
  pick(id: string | undefined): void {
    if (id === this.selected) return;
    this.selected = id;
    for (const li of this.items()) li.setAttribute('aria-selected', String((li.dataset.id || undefined) === id));
    this.onPick(id);
  }

  update(m: ModelSnapshot): void {
    const rows: HTMLElement[] = [this.item(undefined, 'All connections', `${m.connections.length}`, '')];
    const heading = (text: string) => {
      const h = el('li', 'server', oneLine(text));
      // The list is narrow: the whole heading is its tooltip.
      h.title = oneLine(text);
      h.setAttribute('role', 'presentation');
      rows.push(h);
    };
    for (const s of m.servers) {
      heading(`Server ${s.url} · ${s.relay}${s.backplane ? ` · Redis ${s.backplane.state}` : ''}${s.tag ? ` · debug: ${s.tag}` : ''}`);
      for (const c of m.connections) {
        if ((c.kind === 'serverClient' || c.kind === 'backplane') && c.serverId === s.id) rows.push(this.connItem(c));
      }
    }
    for (const src of m.sources ?? []) {
      heading(`${src.kind === 'proxy' ? 'Proxy' : 'Browser'} ${src.label}${src.tag ? ` · debug: ${src.tag}` : ''}`);
      for (const c of m.connections) {
        if (c.parentId !== src.id) continue;
        const item = this.connItem(c);
        if (c.kind === 'proxy' && c.compression) withCompression(item, c.compression, true);
        rows.push(item);
        // A proxied connection's two legs, under it.
        for (const side of m.connections) {
          if (side.kind !== 'proxySide' || side.parentId !== c.id) continue;
          const leg = this.connItem(side, 'side');
          if (c.compression) withCompression(leg, c.compression, false);
          rows.push(leg);
        }
      }
    }
    const orphans = m.connections.filter(
      (c) => c.kind === 'outgoing' || ((c.kind === 'serverClient' || c.kind === 'backplane') && !m.servers.some((s) => s.id === c.serverId)),
    );
    if (orphans.length) {
      // Closed clients of a server that has stopped stay listed, under what they were.
      heading(orphans.every((c) => c.kind === 'outgoing') ? 'Outgoing' : orphans.some((c) => c.kind === 'outgoing') ? 'Outgoing and past clients' : 'Stopped server');
      for (const c of orphans) rows.push(this.connItem(c));
    }
    this.list.replaceChildren(...rows);
    // Presentation rows are headings, not options.
    for (const h of this.list.querySelectorAll<HTMLElement>('li.server')) h.removeAttribute('data-id');
  }

  private connItem(c: ConnectionRow, extraClass?: string): HTMLElement {
    const label = c.note ? `${c.label} · ${c.note}` : c.label;
    const li = this.item(c.id, oneLine(label), STATE_ICON[c.state], c.state);
    li.classList.add(`kind-${c.kind}`);
    if (extraClass) li.classList.add(extraClass);
    // The list is narrow: the whole label (a closed one's code and reason included) is its tooltip.
    li.title = c.tag ? `${oneLine(label)}\nCaptured in debug session "${oneLine(c.tag)}"` : oneLine(label);
    return li;
  }

  private item(id: string | undefined, label: string, badgeText: string, state: string): HTMLElement {
    const li = el('li', `conn state-${state || 'all'}`);
    li.setAttribute('role', 'option');
    li.dataset.id = id ?? '';
    li.setAttribute('aria-selected', String(id === this.selected));
    li.setAttribute('aria-label', state ? `${label}, ${state}` : label);
    li.append(el('span', 'icon', badgeText), el('span', 'label', label));
    return li;
  }
}

/** A proxied connection's rows: its compression (mode, both legs) as their tooltip, and a few words on its own row. */
function withCompression(li: HTMLElement, c: ProxyCompressionDto, words: boolean): void {
  if (words) li.appendChild(el('span', `compression mode-${c.mode}`, compressionShort(c)));
  li.title = `${li.title ? `${li.title}\n` : ''}${compressionTooltip(c)}`;
}

export class ClientsTable {
  readonly el: HTMLElement;
  private readonly tbody: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly rows = new Map<string, { tr: HTMLElement; cells: HTMLElement[] }>();

  constructor(
    private readonly onSendTo: (c: ConnectionRow) => void,
    private readonly onDisconnect: (c: ConnectionRow) => void,
  ) {
    this.el = el('div', 'clients');
    const table = el('table');
    table.setAttribute('aria-label', 'Server clients');
    const head = el('thead');
    const tr = el('tr');
    for (const h of ['Client', 'Address', 'User agent', 'Connected since', 'State', 'Msgs in', 'Msgs out', 'Bytes in', 'Bytes out', 'Actions']) {
      const th = el('th', undefined, h);
      th.scope = 'col';
      tr.appendChild(th);
    }
    head.appendChild(tr);
    this.tbody = el('tbody');
    table.append(head, this.tbody);
    this.empty = el('div', 'note', 'No server clients. Start the broadcast server and connect a client.');
    this.el.append(table, this.empty);
  }

  update(m: ModelSnapshot): void {
    const clients = m.connections.filter((c) => c.kind === 'serverClient');
    this.empty.hidden = clients.length > 0;
    const seen = new Set<string>();
    for (const c of clients) {
      seen.add(c.id);
      let r = this.rows.get(c.id);
      if (!r) {
        const tr = el('tr');
        tr.dataset.id = c.id;
        const cells = Array.from({ length: 9 }, () => el('td'));
        const actions = el('td', 'actions');
        const current = () => clients.find((x) => x.id === c.id) ?? c;
        actions.append(
          button({ label: 'Send…', ariaLabel: `Send to ${c.label}`, appearance: 'secondary', onClick: () => this.onSendTo(this.latest.get(c.id) ?? current()) }).el,
          button({ label: 'Disconnect', ariaLabel: `Disconnect ${c.label}`, appearance: 'secondary', onClick: () => this.onDisconnect(this.latest.get(c.id) ?? current()) }).el,
        );
        tr.append(...cells, actions);
        r = { tr, cells };
        this.rows.set(c.id, r);
      }
      this.latest.set(c.id, c);
      const values = [
        oneLine(c.label),
        oneLine(c.remote ?? ''),
        oneLine(c.userAgent ?? ''),
        c.connectedAt ? formatAbsolute(c.connectedAt) : '',
        c.state,
        formatCount(c.messagesIn),
        formatCount(c.messagesOut),
        formatBytes(c.bytesIn),
        formatBytes(c.bytesOut),
      ];
      if (c.state === 'closed' && c.note) values[4] = c.note;
      values.forEach((v, i) => {
        if (r.cells[i].textContent !== v) r.cells[i].textContent = v;
      });
      r.tr.className = `state-${c.state}`;
      // A closed client is kept for review: nothing can be sent to it or disconnected.
      for (const b of r.tr.querySelectorAll<HTMLElement & { disabled: boolean }>('td.actions > *')) b.disabled = c.state === 'closed';
    }
    for (const [id, r] of this.rows) {
      if (!seen.has(id)) {
        r.tr.remove();
        this.rows.delete(id);
        this.latest.delete(id);
      }
    }
    // Keep the model's order.
    const order = clients.map((c) => this.rows.get(c.id)!.tr);
    if (order.some((tr, i) => this.tbody.children[i] !== tr)) this.tbody.replaceChildren(...order);
  }

  private readonly latest = new Map<string, ConnectionRow>();
}
