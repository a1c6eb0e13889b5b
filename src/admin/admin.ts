// The admin listener (loopback by default): health, statistics and purge. Kept
// apart from the proxy listener so operators can firewall it separately.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { StrataError } from '../errors.js';
import { COUNTERS, type Stats } from '../observability/stats.js';
import type { CacheStore } from '../store/types.js';
import type { OriginClient } from '../origin/client.js';
import { json } from './purge.js';
import { isAllowedAdminHost } from './allowed-host.js';

export interface AdminDeps {
  nodeId: string;
  stats: Stats;
  store: CacheStore;
  origin: Pick<OriginClient, 'stats'>;
  startedAtMs: number;
  now: () => number;
  /** Host names answered besides localhost and IP literals (admin.hosts). */
  allowedHosts: readonly string[];
  /** `POST /purge`. */
  purge: (req: IncomingMessage, res: ServerResponse) => void;
}

export function createAdminHandler(deps: AdminDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (!isAllowedAdminHost(req.headers.host, deps.allowedHosts)) {
      const err = new StrataError('ADMIN_HOST_REFUSED', `the admin API answers Host localhost, an IP address or a name in admin.hosts, not ${JSON.stringify(req.headers.host)}`);
      return json(res, err.status, { error: err.code, message: err.message });
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/purge') {
      if (req.method === 'POST') return deps.purge(req, res);
      res.setHeader('allow', 'POST');
      return json(res, 405, { error: 'METHOD_NOT_ALLOWED', message: '/purge answers POST' });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'METHOD_NOT_ALLOWED', message: 'admin endpoints answer GET' });
    switch (path) {
      case '/healthz':
        return json(res, 200, { status: 'ok', node: deps.nodeId });
      case '/stats':
        return json(res, 200, {
          node: deps.nodeId,
          uptimeS: Math.round((deps.now() - deps.startedAtMs) / 1000),
          ...deps.stats.counters,
          tiers: deps.store.stats(),
          origin: deps.origin.stats(),
          descriptions: COUNTERS,
        });
      default:
        return json(res, 404, { error: 'NOT_FOUND', message: `no admin resource ${path}; try /healthz, /stats or POST /purge` });
    }
  };
}

export function createAdminListener(handler: (req: IncomingMessage, res: ServerResponse) => void): http.Server {
  return http.createServer({ maxHeaderSize: 16384 }, handler);
}
