// The frame-breakpoint and proxy-compression part of the host <-> webview protocol (protocol.ts holds the rest and
// imports this). Types, limits and checks only: no `vscode`, no DOM, no Node `Buffer`.

type Direction = 'c2s' | 's2c';

/** Where a rule holds frames (BreakpointRule.appliesTo): the inspecting proxy, the embedded server, client connections. */
export type BreakpointScopeDto = 'proxy' | 'server' | 'client';

/** Every scope, in the order the UI lists them. */
export const BREAKPOINT_SCOPE_LIST: readonly BreakpointScopeDto[] = ['proxy', 'server', 'client'];

/** Negotiated permessage-deflate parameters (RFC 7692 §7.1); window bits are 15 when the parameter was absent. */
export interface DeflateParamsDto {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

export type ProxyCompressionMode = 'terminate' | 'passthrough' | 'strip';

/** What one proxied connection runs with, decided at its upgrade, and where its mode came from. */
export interface ProxyCompressionDto {
  mode: ProxyCompressionMode;
  /** `default`: automatic (terminate while a proxy rule existed at its upgrade, else passthrough); `option`: set. */
  chosen: 'option' | 'default';
  /** Where a set mode came from: the setting wsInspector.proxy.compression, or the debug session's launch.json. */
  setIn?: 'setting' | 'launch.json';
  /** The program offered permessage-deflate. */
  programOffered: boolean;
  /** permessage-deflate on the program ↔ proxy leg; absent: none. */
  programLeg?: DeflateParamsDto;
  /** permessage-deflate on the proxy ↔ target leg; absent: none. */
  targetLeg?: DeflateParamsDto;
}

/** Who closed the connection of a held frame. */
export type HeldCloserDto = 'program' | 'target' | 'proxy' | 'client' | 'server';

/** The connection of a held frame closed while it was held. */
export interface HeldClosedDto {
  /** 1005: the close frame had no code; 1006: no close frame. */
  code: number;
  reason: string;
  by: HeldCloserDto;
  /** Epoch ms. */
  at: number;
}

/** How a compressed message held in passthrough can be edited next time. */
export interface CompressionSwitchDto {
  /**
   * `setting`: the switch sets wsInspector.proxy.compression to terminate; `launch.json`: it sets the debug
   * configuration's wsInspector.proxy.compression; `automatic`: nothing to set, the proxy's next connection terminates
   * by itself while a rule exists.
   */
  where: 'setting' | 'launch.json' | 'automatic';
  /** For `launch.json`: the configuration's name. */
  configuration?: string;
}

/** A message or control frame held by a breakpoint (in the proxy, the server or a client connection). */
export interface HeldFrameDto {
  id: number;
  source: BreakpointScopeDto;
  /** The holder's connection id: a proxied connection (`proxy1-3`), a server client, `allClients`, a client connection. */
  connectionId: string;
  /** The connection as the user knows it (its label in the list when it was held). */
  connectionLabel: string;
  direction: Direction;
  opcode: number;
  /** The payload as text when it is valid UTF-8, at most MAX_DETAIL_BYTES. */
  text?: string;
  /** Hex digits of the payload when it is not text: all of it when `hexComplete`, else its first 256 bytes. */
  hex?: string;
  /** `hex` is the whole payload (at most MAX_HEX_EDIT_BYTES), so it can be edited as hex. */
  hexComplete?: boolean;
  size: number;
  compressed: boolean;
  ruleId: string;
  heldAt: number;
  deadline: number;
  /** Time left until it goes on unchanged, when the snapshot was taken (the webview counts down from it: clocks differ). */
  remainingMs: number;
  editable: boolean;
  notEditableReason?: string;
  /** Set for a compressed message that passthrough makes uneditable. */
  compressionSwitch?: CompressionSwitchDto;
  /** Its connection closed while it was held. */
  closed?: HeldClosedDto;
  /** No longer held (its connection closed): the card stays until dismissed, and offers nothing else. */
  resolved?: true;
}

export type HeldOutcomeKind = 'forwarded' | 'edited' | 'dropped' | 'timedOut' | 'connectionClosed';

/** What became of a held frame. */
export interface HeldOutcomeDto {
  id: number;
  source: BreakpointScopeDto;
  connectionId: string;
  connectionLabel: string;
  direction: Direction;
  ruleId: string;
  outcome: HeldOutcomeKind;
  /** The outcome as a sentence ("not delivered: the connection closed"). */
  text: string;
  time: number;
  closed?: HeldClosedDto;
}

export interface BreakpointRuleDto {
  id: string;
  enabled: boolean;
  /** One line: direction, opcode, pattern, path. */
  description: string;
  appliesTo: BreakpointScopeDto[];
}

export interface BreakpointsSnapshot {
  rules: BreakpointRuleDto[];
  /** Held frames, oldest first, then the cards of those whose connection closed (until dismissed). */
  held: HeldFrameDto[];
  /** The latest outcomes, newest last (at most 50). */
  recent: HeldOutcomeDto[];
  timeoutMs: number;
  /** What Hold longer adds to a deadline. */
  holdLongerMs: number;
}

/**
 * Forward now (unchanged), forward edited (re-encoded from `text`, or from `hex` for a binary payload: two digits a
 * byte, whitespace allowed), drop, hold longer (the deadline moves by holdLongerMs), or dismiss a closed card.
 */
export type HeldAction = 'forward' | 'edit' | 'drop' | 'holdLonger' | 'dismiss';

/** What became of a message sent from the panel: sent now, held by a rule, or queued behind a held one. */
export interface SendResult {
  status: 'sent' | 'held' | 'queued';
  /** Deliveries so far (recipients of a Send to all, 1 for a connection's send); 0 while held or queued. */
  delivered: number;
  /** For `held`: the held frame's id and rule. */
  heldId?: number;
  ruleId?: string;
}

export interface BreakpointRequests {
  resolveHeld: { params: { id: number; action: HeldAction; text?: string; hex?: string }; result: null };
  /**
   * For a compressed message held in passthrough: sets `terminate` where the connection's mode came from (the setting
   * or launch.json) for next time. The reply says what was changed.
   */
  switchCompression: { params: { heldId: number }; result: { message: string } };
  /** Changes where a rule applies (in the settings the rule comes from). */
  setRuleScopes: { params: { ruleId: string; appliesTo: BreakpointScopeDto[] }; result: null };
  /** Runs "WebSocket: Add Frame Breakpoint…", which asks its questions in VS Code's quick input. */
  addBreakpoint: { params: object; result: null };
}

export const BREAKPOINT_REQUEST_TYPES: readonly (keyof BreakpointRequests)[] = ['resolveHeld', 'switchCompression', 'setRuleScopes', 'addBreakpoint'];

const HELD_ACTIONS: ReadonlySet<unknown> = new Set<HeldAction>(['forward', 'edit', 'drop', 'holdLonger', 'dismiss']);
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const optString = (x: unknown): boolean => x === undefined || typeof x === 'string';

/** Checks the parameters of one of BREAKPOINT_REQUEST_TYPES (the type and requestId are checked by the caller). */
export function isBreakpointRequest(x: Record<string, unknown>): boolean {
  switch (x.type as keyof BreakpointRequests) {
    case 'resolveHeld':
      // An edit carries its payload as text or as hex, not both and not neither.
      return isNum(x.id) && HELD_ACTIONS.has(x.action) && optString(x.text) && optString(x.hex) && (x.action !== 'edit' || (typeof x.text === 'string') !== (typeof x.hex === 'string'));
    case 'switchCompression':
      return isNum(x.heldId);
    case 'setRuleScopes':
      return (
        typeof x.ruleId === 'string' &&
        Array.isArray(x.appliesTo) &&
        x.appliesTo.length > 0 &&
        x.appliesTo.every((s) => BREAKPOINT_SCOPE_LIST.includes(s as BreakpointScopeDto)) &&
        new Set(x.appliesTo).size === x.appliesTo.length
      );
    case 'addBreakpoint':
      return true;
    default:
      return false;
  }
}
