// Open a listener on a configured address; a failure is one line naming the
// setting, the address and why (in use, not permitted...).

import type { Server as NetServer } from 'node:net';
import type { ListenAddress } from '../config/types.js';
import { StrataError } from '../errors.js';

export function listen(server: NetServer, addr: ListenAddress, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const why = err.code === 'EADDRINUSE' ? 'is in use' : err.code === 'EACCES' ? 'is not permitted' : `failed (${err.code ?? err.message})`;
      reject(new StrataError('LISTEN_FAILED', `${what}: ${addr.host}:${addr.port} ${why}`));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(addr.port, addr.host);
  });
}
