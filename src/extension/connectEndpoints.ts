// Saving an endpoint into `wsInspector.endpoints`: "Save as Endpoint" and "Trust this certificate for this endpoint…".
import * as vscode from 'vscode';
import type { SavedEndpoint } from './settings';

/** An endpoint as written to the setting: a SavedEndpoint without what is only known when it is read back. */
export type EndpointToSave = Omit<SavedEndpoint, 'fromWorkspace'>;

/**
 * Where the endpoint goes: the workspace settings when a folder is open and the list is (or can be) kept there; the
 * user's settings when only they hold a list (a workspace list would hide it: array settings do not merge) or when it
 * turns certificate checks off, which only the user's settings may do.
 */
function targetFor(e: EndpointToSave): vscode.ConfigurationTarget {
  const where = vscode.workspace.getConfiguration('wsInspector').inspect<unknown[]>('endpoints');
  if (e.allowSelfSigned || !vscode.workspace.workspaceFolders?.length) return vscode.ConfigurationTarget.Global;
  if (where?.workspaceValue === undefined && Array.isArray(where?.globalValue) && where.globalValue.length > 0) {
    return vscode.ConfigurationTarget.Global;
  }
  return vscode.ConfigurationTarget.Workspace;
}

/** Adds `e`, or replaces the saved endpoint with the same URL; resolves to where it was written. */
export async function saveEndpoint(e: EndpointToSave): Promise<vscode.ConfigurationTarget> {
  const target = targetFor(e);
  const c = vscode.workspace.getConfiguration('wsInspector');
  const where = c.inspect<unknown[]>('endpoints');
  const current = (target === vscode.ConfigurationTarget.Global ? where?.globalValue : where?.workspaceValue) ?? [];
  const list = Array.isArray(current) ? [...current] : [];
  const clean = Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined && v !== false && v !== ''));
  const i = list.findIndex((x) => (x as { url?: unknown })?.url === e.url);
  if (i === -1) list.push(clean);
  else list[i] = { ...(list[i] as object), ...clean };
  await c.update('endpoints', list, target);
  return target;
}
