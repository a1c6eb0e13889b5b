// The upstream pools reloads replaced, until they are closed. A request keeps the
// generation (and so the pool) it was routed to until it ends, and may reach that
// pool long after the reload: waiting on forward-auth or a JWKS, the next slice of
// a download, a background revalidation it started. So a retired pool is closed
// (gracefully: what it sent finishes) only once every older generation's work is
// over, or `deadlineMs` after the reload at the latest; a request reaching it
// later goes to its successor when the route has one (origin/pool.ts).
//
// Invariant: a pool is listed from its retirement until its close settled, so the
// drain status (router.ts) counts the requests it still carries.

import type { Logger } from 'pino';
import type { InFlight } from '../util/in-flight.js';
import type { RoutePool } from './route-table.js';

export class RetiringPools {
  private readonly pools = new Set<RoutePool>();
  /** The work of generations a reload replaced that is still running. */
  private readonly older = new Set<InFlight>();

  constructor(private readonly logger: Logger) {}

  /**
   * A reload took effect: `replaced` is the work of the generation it replaced,
   * `retired` the pools the new generation does not use (none when the pools were
   * kept as they were).
   */
  reloaded(replaced: InFlight, retired: readonly RoutePool[], deadlineMs: number): void {
    const users = [replaced, ...this.older];
    for (const pool of retired) this.retire(pool, users, deadlineMs);
    if (replaced.count === 0) return;
    this.older.add(replaced);
    void replaced.idle().then(() => this.older.delete(replaced));
  }

  private retire(pool: RoutePool, users: readonly InFlight[], deadlineMs: number): void {
    this.pools.add(pool);
    pool.retire?.();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), deadlineMs).unref()));
    const over = Promise.all(users.map((w) => w.idle())).then(() => 'requests over' as const);
    void Promise.race([over, deadline])
      .then((after) => {
        clearTimeout(timer);
        this.logger.info({ upstreams: pool.name, after, ...(after === 'deadline' ? { deadlineMs } : {}) }, 'closing an upstream pool a reload replaced');
        return pool.close(true);
      })
      .catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'closing the upstream pool a reload replaced failed'))
      .finally(() => this.pools.delete(pool));
  }

  /** The pools retired and not yet closed. */
  list(): RoutePool[] {
    return [...this.pools];
  }

  /** At stop: close them all now (not graceful: abort what they still carry). */
  close(graceful: boolean): Promise<void> {
    return Promise.all([...this.pools].map((p) => p.close(graceful))).then(() => undefined);
  }
}
