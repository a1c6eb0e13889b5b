// Shared by the upstream pool tests: how requests spread, the pool's /stats, log matchers.

import { fetchReply, type PoolHarness } from '../fixtures/harness.js';

export async function spread(h: PoolHarness, n: number, path = (i: number) => `/p${i}`): Promise<{ by: Record<string, number>; statuses: number[] }> {
  const by: Record<string, number> = {};
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await h.get(path(i));
    statuses.push(r.status);
    if (r.status === 200) by[r.text] = (by[r.text] ?? 0) + 1;
  }
  return { by, statuses };
}

export interface UpstreamStats {
  name: string;
  state: string;
  available: boolean;
  inFlight: number;
  ewmaMs: number;
  requests: number;
  failures: number;
  ejections: number;
  weight: number;
  lastTransition?: { to: string; reason: string };
}

export async function originStats(h: PoolHarness): Promise<{ balancer: string; retries: number; allDownRequests: number; upstreams: UpstreamStats[] }> {
  const r = await fetchReply(h.admin + '/stats');
  return (JSON.parse(r.text) as { origin: Awaited<ReturnType<typeof originStats>> }).origin;
}

export const msgFor = (h: PoolHarness, i: number, msg: string) => (l: Record<string, unknown>) => l['upstream'] === h.origins[i]!.url && l['msg'] === msg;
