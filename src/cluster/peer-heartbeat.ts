// Signs of life on a peer's request this node is still working on (its origin fetch,
// a wait for a fetch in flight, a disk read): a 102 (Processing) interim response
// every third of cluster.peerTimeoutMs until the answer's headers go out. The asking
// node waits cluster.peerTimeoutMs for a sign of life, not for the answer
// (peer-fetch.ts): an owner waiting on a slow origin is not taken for a dead one
// (before, an origin slower than that cost one origin request per node in the
// ranking, each node asked in turn and counted failed). A node that stopped (SIGSTOP,
// a wedged event loop) sends nothing and is skipped as before. A client may receive
// any 1xx before the final answer (RFC 9110 §15.2); the asking node never passes
// these on to its clients.

import type { ServerResponse } from 'node:http';

/** The interval between signs of life for a peer whose patience is `peerTimeoutMs`. */
export function heartbeatMs(peerTimeoutMs: number): number {
  return Math.max(10, Math.floor(peerTimeoutMs / 3));
}

/** Send 102 (Processing) to the peer every `everyMs` until `res`'s headers are sent or it closes. */
export function keepPeerWaiting(res: ServerResponse, everyMs: number): void {
  // HTTP/2 compatibility responses (never a peer's) may lack it.
  if (typeof res.writeProcessing !== 'function') return;
  const timer = setInterval(() => {
    if (res.headersSent || res.writableEnded || res.destroyed) return void clearInterval(timer);
    res.writeProcessing();
  }, everyMs);
  timer.unref();
  res.once('close', () => clearInterval(timer));
}
