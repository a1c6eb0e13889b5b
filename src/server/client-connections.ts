// Open connections per client address, capped (limits.maxConnectionsPerClient).
// Counted once per TCP connection, at accept, whatever protocol it goes on to
// speak (HTTP/1.1, TLS with HTTP/1.1 or HTTP/2), and released when it closes.
// A client is what the rate limit counts (clientOf): an IPv6 client is its /64,
// which one host can fill with addresses of its own.

import type { Socket } from 'node:net';
import { StrataError } from '../errors.js';
import { clientOf } from '../http/patterns.js';

export class ClientConnections {
  private readonly open = new Map<string, number>();

  /** `cap()`: connections one address may hold, read at each accept (limits may change live); 0 means no cap. */
  constructor(private readonly cap: () => number) {}

  /**
   * Count `socket` against its address until it closes. Returns the refusal when
   * the address already holds `cap` connections (the socket is then not counted).
   */
  admit(socket: Socket): StrataError | undefined {
    const cap = this.cap();
    if (cap <= 0) return undefined;
    const addr = clientOf(socket.remoteAddress ?? '');
    const open = this.open.get(addr) ?? 0;
    if (open >= cap) {
      return new StrataError('TOO_MANY_CONNECTIONS', `client ${addr} already has ${open} open connections; the limit is ${cap} (limits.maxConnectionsPerClient)`);
    }
    this.open.set(addr, open + 1);
    socket.once('close', () => {
      const left = (this.open.get(addr) ?? 1) - 1;
      if (left > 0) this.open.set(addr, left);
      else this.open.delete(addr);
    });
    return undefined;
  }
}
