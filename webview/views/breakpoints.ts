// Frame breakpoints: the rules in force and where each applies (proxy, server clients, client connections), the frames
// held now (one card each), and what became of the latest ones (a timed-out frame was forwarded unchanged, a closed
// connection's was not delivered: the user must see that it was).
import type { BreakpointRuleDto, BreakpointScopeDto, BreakpointsSnapshot, HeldAction } from '../../src/shared/breakpointsProtocol';
import { BREAKPOINT_SCOPE_LIST } from '../../src/shared/breakpointsProtocol';
import { oneLine } from '../format';
import { heldCount, outcomeLine, SCOPE_NAME } from '../heldText';
import { button, checkbox, el } from '../ui';
import { HeldCard, type HeldEdit } from './heldCard';

export type { HeldEdit } from './heldCard';

export interface BreakpointsActions {
  resolve(id: number, action: HeldAction, edit?: HeldEdit): Promise<void>;
  switchCompression(heldId: number): Promise<string>;
  setRuleScopes(ruleId: string, appliesTo: BreakpointScopeDto[]): Promise<void>;
  addRule(): void;
}

export class BreakpointsPane {
  readonly el: HTMLElement;
  private readonly rulesNote: HTMLElement;
  private readonly rulesList: HTMLElement;
  private readonly heldList: HTMLElement;
  private readonly heldEmpty: HTMLElement;
  private readonly recent: HTMLElement;
  private readonly cards = new Map<number, HeldCard>();
  private readonly timer: ReturnType<typeof setInterval>;
  private rulesKey = '';
  private live = 0;

  constructor(private readonly actions: BreakpointsActions) {
    this.el = el('div', 'breakpoints');
    const rulesHead = el('div', 'rules-head');
    const rulesTitle = el('h3', undefined, 'Rules');
    rulesHead.append(rulesTitle, button({ label: 'Add rule…', ariaLabel: 'Add a breakpoint rule', appearance: 'secondary', onClick: () => actions.addRule() }).el);
    this.rulesNote = el('p', 'note');
    this.rulesList = el('ul', 'rules');
    this.rulesList.setAttribute('aria-label', 'Breakpoint rules');
    const heldTitle = el('h3', undefined, 'Held frames');
    this.heldList = el('ul', 'held');
    this.heldList.setAttribute('aria-label', 'Held frames');
    this.heldEmpty = el('div', 'note', 'No frame is held.');
    const recentTitle = el('h3', undefined, 'Latest outcomes');
    this.recent = el('ul', 'outcomes');
    this.recent.setAttribute('aria-label', 'Latest breakpoint outcomes');
    this.el.append(rulesHead, this.rulesNote, this.rulesList, heldTitle, this.heldEmpty, this.heldList, recentTitle, this.recent);
    this.timer = setInterval(() => this.tick(), 1000);
  }

  /** How many frames are held now (not counting the cards of closed connections). */
  get heldCount(): number {
    return this.live;
  }

  update(b: BreakpointsSnapshot | undefined): void {
    if (!b) {
      this.rulesNote.textContent = 'Breakpoints hold frames in the inspecting proxy, the embedded server and client connections.';
      return;
    }
    this.renderRules(b);
    const seen = new Set<number>();
    for (const h of b.held) {
      seen.add(h.id);
      const card = this.cards.get(h.id);
      if (card) card.update(h);
      else {
        const made = new HeldCard(h, b.holdLongerMs, { resolve: (...a) => this.actions.resolve(...a), switchCompression: (id) => this.actions.switchCompression(id) });
        this.cards.set(h.id, made);
        this.heldList.appendChild(made.el);
      }
    }
    for (const [id, card] of this.cards) {
      if (!seen.has(id)) {
        card.el.remove();
        this.cards.delete(id);
      }
    }
    this.live = heldCount(b.held);
    this.heldEmpty.hidden = this.cards.size > 0;
    const rows = b.recent
      .slice()
      .reverse()
      .map((o) => el('li', `outcome outcome-${o.outcome}`, outcomeLine(o)));
    this.recent.replaceChildren(...rows);
  }

  private renderRules(b: BreakpointsSnapshot): void {
    const on = b.rules.filter((r) => r.enabled).length;
    const seconds = Math.round(b.timeoutMs / 1000);
    this.rulesNote.textContent = b.rules.length
      ? `A held frame goes on unchanged after ${seconds} s, unless you hold it longer.${b.rules.length && !on ? ' All rules are off.' : ''}`
      : 'No breakpoint rules. Add one here, with "WebSocket: Add Frame Breakpoint…", or in the wsInspector.breakpoints.rules setting.';
    const key = JSON.stringify(b.rules);
    if (key === this.rulesKey) return;
    this.rulesKey = key;
    this.rulesList.replaceChildren(...b.rules.map((r) => this.ruleItem(r)));
  }

  /** A rule, and a checkbox for each place it may apply to (at least one stays checked). */
  private ruleItem(r: BreakpointRuleDto): HTMLElement {
    const li = el('li', r.enabled ? 'rule' : 'rule off');
    li.dataset.id = r.id;
    li.appendChild(el('span', 'rule-text', `${oneLine(r.id)}${r.enabled ? '' : ' (off)'}: ${oneLine(r.description)}`));
    const places = el('span', 'rule-scopes');
    places.setAttribute('role', 'group');
    places.setAttribute('aria-label', `Where rule ${oneLine(r.id)} applies`);
    places.appendChild(el('span', 'applies', 'holds in:'));
    const chosen = new Set(r.appliesTo);
    for (const scope of BREAKPOINT_SCOPE_LIST) {
      const box = checkbox({
        label: SCOPE_NAME[scope],
        ariaLabel: `Rule ${oneLine(r.id)} applies to ${SCOPE_NAME[scope]}`,
        checked: chosen.has(scope),
        onChange: (checked) => {
          const next = new Set(chosen);
          if (checked) next.add(scope);
          else next.delete(scope);
          if (next.size === 0) {
            box.checked = true;
            return;
          }
          // The list is drawn again from the settings when they change; a refusal puts the box back.
          this.actions.setRuleScopes(r.id, BREAKPOINT_SCOPE_LIST.filter((s) => next.has(s))).catch(() => (box.checked = !checked));
        },
      });
      places.appendChild(box.el);
    }
    li.appendChild(places);
    return li;
  }

  private tick(): void {
    for (const card of this.cards.values()) card.tick();
  }

  dispose(): void {
    clearInterval(this.timer);
  }
}
