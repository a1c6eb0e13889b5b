// The listeners a worker opens for the other workers of its node: its proxy link
// (their misses, fetched from what this worker holds) and, on worker 0, its admin
// link. Owned here so that a reload's limits reach the proxy link as they reach the
// client listener (node.ts reload): made with the limits of the start and never told
// of a reload, it kept them until a restart.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { LimitsConfig, ListenAddress } from '../config/types.js';
import { createAdminListener } from '../admin/admin.js';
import { listen } from '../server/listen.js';
import { createListener, type ProxyListener } from '../server/listener.js';
import type { RefusalRecorder } from '../server/refusal.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** No per-client connection cap on a link: every link connection comes from 127.0.0.1. */
function linkLimits(limits: LimitsConfig): LimitsConfig {
  return { ...limits, maxConnectionsPerClient: 0 };
}

export class LinkListeners {
  private proxyLink: ProxyListener | undefined;
  private readonly servers: Server[] = [];

  /** The proxy link on `address`: requests from the other workers go to `handler`. */
  async openProxy(handler: Handler, onRefused: RefusalRecorder, limits: LimitsConfig, logger: Logger, address: ListenAddress): Promise<void> {
    const link = createListener(handler, { limits: linkLimits(limits), logger, onRefused });
    this.proxyLink = link;
    this.servers.push(link);
    await listen(link, address, 'worker proxy link');
  }

  /** Worker 0's admin link on `address`: the primary and the other workers ask the node's admin API there. */
  async openAdmin(handler: Handler, address: ListenAddress): Promise<void> {
    const adminLink = createAdminListener(handler);
    this.servers.push(adminLink);
    await listen(adminLink, address, 'worker admin link');
  }

  /** A reload's limits: for connections accepted from now on, as on the client listener. */
  setLimits(limits: LimitsConfig): void {
    this.proxyLink?.setLimits(linkLimits(limits));
  }

  /** No new connections; those with no request in flight close. */
  close(): void {
    for (const s of this.servers) {
      s.close();
      s.closeIdleConnections();
    }
  }

  closeAllConnections(): void {
    for (const s of this.servers) s.closeAllConnections();
  }
}
