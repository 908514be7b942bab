// Listening on a port, with the errors a user can act on named as such: shared by the broadcast server and the
// inspecting proxy.
import type * as net from 'node:net';

/** What listening failed with: `code` is Node's (EADDRINUSE, EACCES…) and the message says what to do. */
export interface ListenFailure {
  code: string;
  message: string;
  cause: NodeJS.ErrnoException;
}

/** Starts `server` listening; rejects with `toError(failure)` when it cannot. */
export function listen<E extends Error>(server: net.Server, host: string, port: number, toError: (f: ListenFailure) => E): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.removeListener('listening', onListening);
      reject(toError(describeListenError(err, host, port)));
    };
    const onListening = () => {
      server.removeListener('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function describeListenError(err: NodeJS.ErrnoException, host: string, port: number): ListenFailure {
  const code = err.code ?? 'ERR_LISTEN';
  const message =
    code === 'EADDRINUSE'
      ? `Port ${port} on ${host} is already in use; stop the other program or choose another port`
      : code === 'EACCES'
        ? `Not allowed to listen on ${host}:${port} (ports below 1024 need privileges)`
        : code === 'EADDRNOTAVAIL'
          ? `Address ${host} is not available on this machine`
          : `Cannot listen on ${host}:${port}: ${err.message}`;
  return { code, message, cause: err };
}
