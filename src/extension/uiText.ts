// Text from outside the extension (status lines, reasons, headers, URLs, Redis errors, configuration and file names)
// made safe for VS Code's own UI. Notifications turn `[label](command:…)` into a link that runs a command; quick
// picks, the status bar and tree items turn `$(name)` into an icon. Every such string goes through here: the lint
// rule in eslint.config.mjs refuses a notification, quick pick item, tree item or status bar text built any other way.
import { errorText } from '../shared/errorText';
import { oneLine } from '../shared/visibleText';

/** Longest untrusted piece shown in VS Code's UI; a hostile server must not fill the screen. */
const MAX_UNTRUSTED_CHARS = 400;

/**
 * `s` as inert text for a notification, a tooltip or a quick pick: on one line, invisible and bidi characters as
 * markers, no Markdown link (`](` becomes `] (`), no icon (`$(` becomes `$ (`), at most MAX_UNTRUSTED_CHARS long.
 */
export function untrusted(value: unknown): string {
  let s = oneLine(errorText(value));
  if (s.length > MAX_UNTRUSTED_CHARS) s = `${s.slice(0, MAX_UNTRUSTED_CHARS)}…`;
  // VS Code's link syntax needs `](` adjacent and its icon syntax `$(` adjacent: a space breaks both, and reads the same.
  return s.replace(/\]\s*\(/g, '] (').replace(/\$\(/g, '$ (');
}

/** Lines for a multi-line tooltip: each one as untrusted() makes it, the empty ones left out. */
export function untrustedLines(lines: ReadonlyArray<unknown>): string {
  return lines.filter((l) => l !== undefined && l !== null && l !== false && l !== '').map(untrusted).join('\n');
}

/**
 * A tagged template for UI text: the literal parts are the extension's own, every `${value}` is untrusted.
 * `uiText\`Could not connect to ${url}: ${err}\``. Numbers pass as they are.
 */
export function uiText(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0];
  const append = (piece: string) => {
    // `]` or `$` of one piece and `(` of the next would make a link or an icon across the seam.
    out += /[\]$]$/.test(out) && piece.startsWith('(') ? ` ${piece}` : piece;
  };
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    append(typeof v === 'number' ? String(v) : untrusted(v));
    append(strings[i + 1]);
  }
  return out;
}
