// The only place that knows the UI component library (@vscode/webview-ui-toolkit, archived upstream). Views build
// controls through these wrappers, so moving to another library touches this folder alone.

let registered: Promise<void> | undefined;

/**
 * Registers the custom elements once. Call it, and wait, before creating controls: a property set on an element
 * before its definition exists would shadow the component's own accessor. (A dynamic import because the toolkit is
 * an ES module and the type checker treats this folder as CommonJS; esbuild inlines it into the bundle.)
 */
export function registerUi(): Promise<void> {
  registered ??= import('@vscode/webview-ui-toolkit').then((tk) => {
    tk.provideVSCodeDesignSystem().register(
      tk.vsCodeBadge(),
      tk.vsCodeButton(),
      tk.vsCodeCheckbox(),
      tk.vsCodeDropdown(),
      tk.vsCodeOption(),
      tk.vsCodePanels(),
      tk.vsCodePanelTab(),
      tk.vsCodePanelView(),
      tk.vsCodeTextArea(),
      tk.vsCodeTextField(),
    );
  });
  return registered;
}

/** An element with text content only (payloads are untrusted: never HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

type ValueElement = HTMLElement & { value: string };

/**
 * Sets an accessible name that sticks: some toolkit controls write a default `aria-label` ("Text area") when they
 * connect, over the one given before.
 */
const pinned = new WeakMap<HTMLElement, string>();
function label(e: HTMLElement, text: string): void {
  if (!pinned.has(e)) {
    new MutationObserver(() => {
      const want = pinned.get(e)!;
      if (e.getAttribute('aria-label') !== want) e.setAttribute('aria-label', want);
    }).observe(e, { attributes: true, attributeFilter: ['aria-label'] });
  }
  pinned.set(e, text);
  e.setAttribute('aria-label', text);
}
type CheckedElement = HTMLElement & { checked: boolean };
type DisabledElement = HTMLElement & { disabled: boolean };

export interface Button {
  readonly el: HTMLElement;
  setLabel(text: string, ariaLabel?: string): void;
  setDisabled(disabled: boolean): void;
  setPressed(pressed: boolean): void;
}

export function button(o: {
  label: string;
  ariaLabel?: string;
  title?: string;
  appearance?: 'primary' | 'secondary' | 'icon';
  onClick: () => void;
}): Button {
  const b = document.createElement('vscode-button') as DisabledElement;
  b.textContent = o.label;
  label(b, o.ariaLabel ?? o.label);
  if (o.title) b.title = o.title;
  if (o.appearance) b.setAttribute('appearance', o.appearance);
  b.addEventListener('click', () => {
    if (!b.disabled) o.onClick();
  });
  return {
    el: b,
    setLabel(text, aria) {
      b.textContent = text;
      label(b, aria ?? text);
    },
    setDisabled(d) {
      b.disabled = d;
    },
    setPressed(p) {
      b.setAttribute('aria-pressed', String(p));
      b.classList.toggle('pressed', p);
    },
  };
}

export interface TextInput {
  readonly el: HTMLElement;
  value: string;
  focus(): void;
  setInvalid(message: string | undefined): void;
}

function textInput(e: ValueElement, o: { ariaLabel: string; placeholder?: string; value?: string; onInput?: (v: string) => void }): TextInput {
  label(e, o.ariaLabel);
  if (o.placeholder) e.setAttribute('placeholder', o.placeholder);
  if (o.value) e.value = o.value;
  e.addEventListener('input', () => o.onInput?.(e.value));
  return {
    el: e,
    get value() {
      return e.value;
    },
    set value(v: string) {
      e.value = v;
    },
    focus() {
      e.focus();
    },
    setInvalid(message) {
      e.classList.toggle('invalid', message !== undefined);
      e.setAttribute('aria-invalid', String(message !== undefined));
      e.title = message ?? '';
    },
  };
}

export function textField(o: { ariaLabel: string; placeholder?: string; value?: string; onInput?: (v: string) => void }): TextInput {
  return textInput(document.createElement('vscode-text-field') as ValueElement, o);
}

export function textArea(o: { ariaLabel: string; placeholder?: string; value?: string; rows?: number; onInput?: (v: string) => void }): TextInput {
  const t = document.createElement('vscode-text-area') as ValueElement;
  t.setAttribute('rows', String(o.rows ?? 3));
  t.setAttribute('resize', 'vertical');
  return textInput(t, o);
}

export interface Option<T extends string> {
  value: T;
  label: string;
  /** Tooltip; default the label (a narrow box cuts it). */
  title?: string;
}

export interface Dropdown<T extends string> {
  readonly el: HTMLElement;
  value: T;
  setOptions(options: ReadonlyArray<Option<T>>, value?: T): void;
}

export function dropdown<T extends string>(o: {
  ariaLabel: string;
  options: ReadonlyArray<Option<T>>;
  value?: T;
  onChange: (v: T) => void;
}): Dropdown<T> {
  const d = document.createElement('vscode-dropdown') as ValueElement;
  label(d, o.ariaLabel);
  let current: T = o.value ?? o.options[0]?.value;
  const setOptions = (options: ReadonlyArray<Option<T>>, value: T = current) => {
    d.replaceChildren(
      ...options.map((op) => {
        const opt = document.createElement('vscode-option') as ValueElement;
        opt.setAttribute('value', op.value);
        opt.textContent = op.label;
        opt.title = op.title ?? op.label;
        return opt;
      }),
    );
    current = options.some((op) => op.value === value) ? value : options[0]?.value;
    // The element picks its selection after its options upgrade.
    queueMicrotask(() => (d.value = current));
  };
  setOptions(o.options, current);
  d.addEventListener('change', () => {
    if (d.value === current) return;
    current = d.value as T;
    o.onChange(current);
  });
  return {
    el: d,
    get value() {
      return current;
    },
    set value(v: T) {
      current = v;
      d.value = v;
    },
    setOptions,
  };
}

export interface Checkbox {
  readonly el: HTMLElement;
  checked: boolean;
}

export function checkbox(o: { label: string; ariaLabel?: string; checked?: boolean; onChange: (checked: boolean) => void }): Checkbox {
  const c = document.createElement('vscode-checkbox') as CheckedElement;
  c.textContent = o.label;
  label(c, o.ariaLabel ?? o.label);
  c.checked = !!o.checked;
  c.addEventListener('change', () => o.onChange(c.checked));
  return {
    el: c,
    get checked() {
      return c.checked;
    },
    set checked(v: boolean) {
      c.checked = v;
    },
  };
}

export interface Tabs<T extends string> {
  readonly el: HTMLElement;
  select(id: T): void;
  /** Changes a tab's text (a count of held frames, say). */
  setLabel(id: T, text: string): void;
  readonly active: T;
}

/** Tabs with a view each; `onChange` fires when the user switches. */
export function tabs<T extends string>(o: {
  ariaLabel: string;
  items: ReadonlyArray<{ id: T; label: string; view: HTMLElement }>;
  active?: T;
  onChange?: (id: T) => void;
}): Tabs<T> {
  const p = document.createElement('vscode-panels') as HTMLElement & { activeid: string };
  label(p, o.ariaLabel);
  let active: T = o.active ?? o.items[0].id;
  for (const it of o.items) {
    const tab = document.createElement('vscode-panel-tab');
    tab.id = `tab-${it.id}`;
    tab.textContent = it.label;
    p.appendChild(tab);
  }
  for (const it of o.items) {
    const view = document.createElement('vscode-panel-view');
    view.id = `view-${it.id}`;
    view.appendChild(it.view);
    p.appendChild(view);
  }
  p.setAttribute('activeid', `tab-${active}`);
  p.addEventListener('change', (ev) => {
    const target = ev.target as HTMLElement | null;
    if (target !== p) return;
    const id = (p.activeid ?? '').replace(/^tab-/, '') as T;
    if (id && id !== active) {
      active = id;
      o.onChange?.(id);
    }
  });
  return {
    el: p,
    select(id) {
      active = id;
      p.activeid = `tab-${id}`;
    },
    setLabel(id, text) {
      const tab = p.querySelector(`#tab-${id}`);
      if (tab && tab.textContent !== text) tab.textContent = text;
    },
    get active() {
      return active;
    },
  };
}
