// The inspector panel: revived after a reload, and opened (on a connection, when one is given) by its command.
import * as vscode from 'vscode';
import type { RegisterCommand } from './commands';
import { InspectorPanel } from './inspectorPanel';
import type { Session } from './session';

export function registerInspectorPanel(context: vscode.ExtensionContext, s: Session, command: RegisterCommand): void {
  context.subscriptions.push(InspectorPanel.registerSerializer(context, s));
  // The tree and the connect error pass a connection id; menus pass other objects, which mean "no selection".
  command('wsInspector.openInspector', (id?: unknown) => {
    InspectorPanel.createOrShow(context, s, typeof id === 'string' ? id : undefined);
  });
}
