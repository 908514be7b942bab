// The message of a thrown value, for logs and for the user: used by the core, the extension and the webview.

/** `err.message` for an Error, else the value as a string (a rejection may carry anything). */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
