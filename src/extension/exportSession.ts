import * as vscode from 'vscode';
import type { EventStore } from '../core/capture/eventStore';
import type { CaptureEvent } from '../core/capture/events';
import { eventToJsonLine, toHar } from '../core/capture/sessionExport';

const PAGE = 5000;

function* allEvents(store: EventStore): Generator<CaptureEvent> {
  let afterId = 0;
  for (;;) {
    const { events, hasMore } = store.query({ afterId, limit: PAGE });
    yield* events;
    if (!hasMore || events.length === 0) return;
    afterId = events[events.length - 1].id;
  }
}

/**
 * Writes the capture history to `target` (asked for when absent): `.har` gives HAR 1.2 with Chrome's
 * `_webSocketMessages`, anything else NDJSON. Returns the file written.
 */
export async function exportSession(store: EventStore, version: string, target?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const stats = store.stats();
  if (stats.count === 0) {
    void vscode.window.showInformationMessage('Nothing captured yet: start a server or connect to an endpoint first.');
    return undefined;
  }
  const uri =
    target ??
    (await vscode.window.showSaveDialog({
      title: 'Export WebSocket session',
      saveLabel: 'Export',
      defaultUri: vscode.Uri.file(`websocket-session-${new Date().toISOString().replace(/[:.]/g, '-')}.har`),
      filters: { 'HAR (Chrome DevTools)': ['har'], 'NDJSON (one event per line)': ['ndjson', 'jsonl'] },
    }));
  if (!uri) return undefined;
  const har = uri.path.toLowerCase().endsWith('.har');
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Exporting ${stats.count.toLocaleString()} events` },
    async () => {
      const text = har
        ? JSON.stringify(toHar(allEvents(store), { creatorVersion: version }), null, 1)
        : [...allEvents(store)].map(eventToJsonLine).join('\n') + '\n';
      await vscode.workspace.fs.writeFile(uri, Buffer.from(text, 'utf8'));
    },
  );
  const evicted = stats.evictedEvents > 0 ? ` (${stats.evictedEvents.toLocaleString()} older events had been evicted)` : '';
  void vscode.window.showInformationMessage(`Exported ${stats.count.toLocaleString()} events to ${uri.fsPath}${evicted}.`);
  return uri;
}
