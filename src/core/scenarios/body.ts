// Turns a message body of the file into what goes on the wire: a string (a text message) or a Buffer (binary).

import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { MessageBody, ScenarioFile } from './model';
import type { Variables } from './variables';

/** Where a body's files are read from, and the file's named messages. */
export interface BodyContext {
  file: ScenarioFile;
  /** The scenario file's folder: relative paths start there. */
  baseDir: string;
  vars: Variables;
}

/** Largest file a `file:` body may name: a scenario message, not a disk image. */
export const MAX_BODY_FILE_BYTES = 16 * 1024 * 1024;

export function resolvePath(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/** The payload of `body`: a string for text (and JSON), a Buffer for binary. Throws with a readable message. */
export async function encodeBody(body: MessageBody, c: BodyContext): Promise<string | Buffer> {
  switch (body.kind) {
    case 'text':
      return c.vars.text(body.text);
    case 'json':
      return JSON.stringify(c.vars.value(body.json));
    case 'hex': {
      const hex = c.vars.text(body.hex).replace(/[\s:]/g, '');
      if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`hex is not pairs of hex digits: "${hex.slice(0, 40)}"`);
      return Buffer.from(hex, 'hex');
    }
    case 'base64':
      return Buffer.from(c.vars.text(body.base64).replace(/\s/g, ''), 'base64');
    case 'file': {
      const path = resolvePath(c.baseDir, c.vars.text(body.path));
      const data = await readBodyFile(path);
      return body.binary ? data : data.toString('utf8');
    }
    case 'ref': {
      const named = c.file.messages.get(body.name);
      if (!named) throw new Error(`no message named "${body.name}"`);
      return encodeBody(named.body, c);
    }
  }
}

/** A body that needs no file and no variable can be encoded without waiting (the common case of a send). */
export function encodeBodyNow(body: MessageBody, c: BodyContext): string | Buffer | undefined {
  if (body.kind === 'text') return c.vars.text(body.text);
  if (body.kind === 'json') return JSON.stringify(c.vars.value(body.json));
  return undefined;
}

async function readBodyFile(path: string): Promise<Buffer> {
  try {
    if ((await stat(path)).size > MAX_BODY_FILE_BYTES) throw new Error(`the file ${path} is over ${MAX_BODY_FILE_BYTES} bytes`);
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    throw new Error(`cannot read the file ${path}: ${code}`, { cause: err });
  }
}
