// The error of a connection that failed, shared by client/ and cdp/ (cdp/ must not import client/).

import type { HandshakeEvent } from '../capture/events';

/** Why a connection failed or ended abnormally. `code` is stable (Node's `ECONNREFUSED`, TLS codes, `WS_ERR_*`, or ours). */
export class ConnectionError extends Error {
  /** HTTP status of a rejected upgrade. */
  readonly status?: number;
  /** The opening handshake as captured (request, response head, bounded body); only with capture on. */
  readonly handshake?: HandshakeEvent;
  /** Start of the body of a rejected upgrade, bounded; present with or without capture. */
  readonly body?: Buffer;

  constructor(
    readonly code: string,
    message: string,
    extra: { status?: number; handshake?: HandshakeEvent; body?: Buffer; cause?: unknown } = {},
  ) {
    super(message, { cause: extra.cause });
    this.name = 'ConnectionError';
    this.status = extra.status;
    this.handshake = extra.handshake;
    this.body = extra.body;
  }
}
