// Record as scenario: a captured connection (a client connection, or a proxied program's) written as a new
// `*.wsx.yaml` that sends what was sent and expects what came back. The credentials the recorder left out become
// `${secret:…}` references whose values the user is asked for and which go to SecretStorage, never into the file.
import * as vscode from 'vscode';
import type { CaptureEvent } from '../core/capture/events';
import { recordScenario } from '../core/scenarios';
import type { RegisterCommand } from './commands';
import type { TreeNode } from './connectionsTree';
import * as notify from './notify';
import type { ScenarioSecrets } from './scenarioSecrets';
import type { Session } from './session';
import { uiText, untrusted } from './uiText';

/** Most events read back for one recording. */
const MAX_EVENTS = 10_000;

function connectionIdOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  const node = arg as TreeNode | undefined;
  return node && 'connection' in node ? node.connection.id : undefined;
}

async function pickConnection(session: Session): Promise<string | undefined> {
  const rows = session.connections().filter((c) => c.messagesIn + c.messagesOut > 0);
  if (rows.length === 0) throw new Error('No connection with messages to record yet. Connect, or run a program through the proxy, first.');
  const picked = await vscode.window.showQuickPick(
    rows.map((c) => ({ label: untrusted(c.label), description: uiText`${c.state} · ↑${c.messagesOut} ↓${c.messagesIn}`, id: c.id })),
    { title: 'Record which connection as a scenario?' },
  );
  return picked?.id;
}

function eventsOf(session: Session, id: string): CaptureEvent[] {
  const out: CaptureEvent[] = [];
  let afterId = 0;
  while (out.length < MAX_EVENTS) {
    const page = session.store.query({ connectionId: id, afterId, limit: 5000 });
    out.push(...page.events);
    if (page.events.length < 5000) break;
    afterId = page.events[page.events.length - 1].id;
  }
  return out;
}

/** A file name in the first workspace folder's `scenarios/` that is not taken yet. */
async function newFileUri(name: string): Promise<vscode.Uri> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  if (!folder) throw new Error('Open a folder first: the recorded scenario is written into it.');
  const base = name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'recorded';
  for (let n = 1; ; n++) {
    const uri = vscode.Uri.joinPath(folder, 'scenarios', `${base}${n > 1 ? `-${n}` : ''}.wsx.yaml`);
    try {
      await vscode.workspace.fs.stat(uri);
    } catch {
      return uri;
    }
  }
}

export function registerScenarioRecord(session: Session, secrets: ScenarioSecrets, command: RegisterCommand): void {
  command('wsInspector.recordScenario', async (arg?: unknown, nameArg?: unknown) => {
    const id = connectionIdOf(arg) ?? (await pickConnection(session));
    if (!id) return undefined;
    const events = eventsOf(session, id);
    if (!events.some((e) => e.kind === 'message')) throw new Error(uiText`The connection ${id} has no messages to record.`);
    const name = typeof nameArg === 'string' ? nameArg : 'recorded';
    const recorded = recordScenario({ events, connectionId: events.find((e) => e.kind === 'message')?.connectionId, name });
    const uri = await newFileUri(name);
    await vscode.workspace.fs.writeFile(uri, Buffer.from(recorded.text, 'utf8'));
    await vscode.window.showTextDocument(uri);
    for (const s of recorded.secrets) {
      if ((await secrets.get(s)) !== undefined) continue;
      const pick = await notify.showInformationMessage(
        uiText`The recording left the credential ${s} out of the file. Store its value in VS Code's secret storage now?`,
        'Set Secret',
        'Later',
      );
      if (pick === 'Set Secret') await secrets.ask(s, 'The recorded connection sent it.');
    }
    return uri;
  });
}
