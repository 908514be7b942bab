import { once } from 'node:events';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import * as notify from './notify';
import { uiText } from './uiText';
import type { RegisterCommand } from './commands';
import type { EventStore } from '../core/capture/eventStore';
import type { CaptureEvent } from '../core/capture/events';
import { eventToJsonLine, SecretRedactor, toHar } from '../core/capture/sessionExport';
import type { Session } from './session';
import { readIncludeSecrets } from './settings';

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
 * Where the export goes, a piece at a time: a file on disk is streamed (a 256 MB history as one string would pass
 * V8's string limit), any other file system gets the pieces joined once at the end.
 */
interface Output {
  write(text: string): Promise<void>;
  close(): Promise<void>;
}

function openOutput(uri: vscode.Uri): Output {
  if (uri.scheme === 'file') {
    const stream = fs.createWriteStream(uri.fsPath);
    const failed = new Promise<never>((_, reject) => stream.once('error', reject));
    failed.catch(() => {});
    return {
      async write(text) {
        if (!stream.write(text)) await Promise.race([once(stream, 'drain'), failed]);
      },
      async close() {
        await Promise.race([new Promise<void>((resolve) => stream.end(resolve)), failed]);
      },
    };
  }
  const parts: string[] = [];
  return {
    async write(text) {
      parts.push(text);
    },
    async close() {
      await vscode.workspace.fs.writeFile(uri, Buffer.from(parts.join(''), 'utf8'));
    },
  };
}

/**
 * Writes the capture history to `target` (asked for when absent): `.har` gives HAR 1.2 with Chrome's
 * `_webSocketMessages`, anything else NDJSON. Credentials in handshakes and URLs are replaced unless
 * `wsInspector.export.includeSecrets` is on. Returns the file written.
 */
export async function exportSession(store: EventStore, version: string, target?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const stats = store.stats();
  if (stats.count === 0) {
    void notify.showInformationMessage('Nothing captured yet: start a server or connect to an endpoint first.');
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
  const keepSecrets = readIncludeSecrets();
  const redactor = keepSecrets ? undefined : new SecretRedactor();
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: uiText`Exporting ${stats.count.toLocaleString()} events`, cancellable: false },
      async (progress) => {
        const out = openOutput(uri);
        let done = 0;
        const step = (n: number, total: number, what: string) => {
          done += n;
          progress.report({ increment: (100 * n) / total, message: `${done.toLocaleString()} of ${total.toLocaleString()} ${what}` });
        };
        try {
          if (har) {
            const log = toHar(allEvents(store), { creatorVersion: version, redactor }).log;
            const { entries, ...head } = log;
            // One entry at a time, so no single string holds the whole file.
            await out.write(`{"log":${JSON.stringify(head).slice(0, -1)},"entries":[\n`);
            for (let i = 0; i < entries.length; i++) {
              await out.write((i > 0 ? ',\n' : '') + JSON.stringify(entries[i]));
              step(1, entries.length, 'connections');
            }
            await out.write('\n]}}\n');
          } else {
            let batch: string[] = [];
            for (const e of allEvents(store)) {
              batch.push(eventToJsonLine(e, redactor));
              if (batch.length === PAGE) {
                await out.write(batch.join('\n') + '\n');
                step(batch.length, stats.count, 'events');
                batch = [];
              }
            }
            if (batch.length > 0) await out.write(batch.join('\n') + '\n');
          }
        } finally {
          await out.close();
        }
      },
    );
  } catch (err) {
    void notify.showErrorMessage(uiText`Could not export to ${uri.fsPath}: ${err}. Choose another file and try again.`);
    return undefined;
  }
  const evicted = stats.evictedEvents > 0 ? ` (${stats.evictedEvents.toLocaleString()} older events had been evicted)` : '';
  const redacted = redactor && redactor.replaced > 0 ? ` ${redactor.replaced.toLocaleString()} credentials were replaced by REDACTED (setting wsInspector.export.includeSecrets).` : '';
  void notify.showInformationMessage(uiText`Exported ${stats.count.toLocaleString()} events to ${uri.fsPath}${evicted}.${redacted}`);
  return uri;
}

export function registerExport(context: vscode.ExtensionContext, s: Session, command: RegisterCommand): void {
  command('wsInspector.exportSession', (target?: vscode.Uri) => exportSession(s.store, String(context.extension.packageJSON.version), target));
}
