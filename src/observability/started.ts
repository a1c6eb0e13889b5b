// What the start-up line says of a node: where it listens, what it serves, how it stores.

import type { AddressInfo } from 'node:net';
import type { Config } from '../config/types.js';

interface Addresses {
  proxyAddress(): AddressInfo;
  redirectAddress(): AddressInfo | undefined;
  adminAddress(): AddressInfo;
}

/** The fields of the "strata node started" line. */
export function startedFields(config: Readonly<Config>, at: Addresses, pools: readonly { name: string }[], tiers: object, tls: boolean): Record<string, unknown> {
  return {
    listen: at.proxyAddress(),
    tls: tls ? (config.tls.http2 ? 'h2, http/1.1' : 'http/1.1') : 'off',
    redirect: at.redirectAddress(),
    admin: at.adminAddress(),
    origin: pools.map((p) => p.name).join('; '),
    sites: config.sites.length === 0 ? 'none (one site: origin.upstreams)' : config.sites.map((site) => site.name).join(', '),
    balancer: config.origin.balancer,
    cacheDir: config.cache.dir,
    tiers,
    purge: config.admin.token === '' ? 'off: no admin token' : 'on',
  };
}
