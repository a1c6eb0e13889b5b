// A node whose configuration a test edits and reloads over the admin API, and
// clients that keep requesting through it (shared by the reload tests).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { createNode, type StrataNode } from '../../src/node.js';
import { FakeClock } from '../../src/util/clock.js';
import { fetchReply, startOrigin, testConfig, until, type OriginHandler, type TestOrigin } from '../fixtures/harness.js';

export const TOKEN = 'reload-token';

export interface Reloadable {
  node: StrataNode;
  clock: FakeClock;
  origins: TestOrigin[];
  logs: Record<string, unknown>[];
  base: string;
  /** What the next reload reads; a test edits it (a copy of the running one to start with). */
  next: Config;
  /** Replaces the configuration source (e.g. with one that reads an invalid file). */
  source?: () => Readonly<Config>;
  reload(): Promise<{ status: number; body: Record<string, unknown> }>;
  stats(): Promise<{ origin: { balancer: string; upstreams: { name: string; state: string; weight: number; requests: number; transitions: number }[] } }>;
  close(): Promise<void>;
}

export async function startReloadable(handlers: OriginHandler[], overrides: Parameters<typeof testConfig>[2] = {}): Promise<Reloadable> {
  const clock = new FakeClock(Date.now());
  const origins = await Promise.all(handlers.map((h) => startOrigin(h, clock)));
  const cacheDir = await mkdtemp(join(tmpdir(), 'strata-reload-'));
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) logs.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const config = testConfig(origins[0]!.url, cacheDir, { admin: { listen: { host: '127.0.0.1', port: 0 }, token: TOKEN, hosts: [] }, ...overrides });
  config.origin.upstreams = origins.map((o) => ({ url: o.url, weight: 1, maxConnections: config.origin.maxConnections }));
  const r: Reloadable = {
    node: undefined as unknown as StrataNode,
    clock,
    origins,
    logs,
    base: '',
    next: structuredClone(config),
    reload: async () => {
      const res = await fetchReply(`http://127.0.0.1:${r.node.adminAddress().port}/reload`, { authorization: `Bearer ${TOKEN}` }, 'POST');
      return { status: res.status, body: JSON.parse(res.text) as Record<string, unknown> };
    },
    stats: async () => JSON.parse((await fetchReply(`http://127.0.0.1:${r.node.adminAddress().port}/stats`)).text),
    close: async () => {
      await r.node.stop();
      await Promise.all(origins.map((o) => o.close()));
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
  r.node = createNode(config, { clock, logDestination: sink as Writable & { write(s: string): boolean }, loadConfig: () => (r.source ? r.source() : structuredClone(r.next)) });
  await r.node.start();
  r.base = `http://127.0.0.1:${r.node.proxyAddress().port}`;
  return r;
}

/** Resolves once the asynchronous `cond` holds; fails after 5 s naming what was awaited. */
export async function eventually(cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Clients requesting `paths` back to back on kept-alive connections until stopped; every non-200 or error is a failure. */
export function steadyLoad(base: string, paths: string[], clients = 6) {
  let running = true;
  const failures: string[] = [];
  const bodies = new Map<string, number>();
  let ok = 0;
  const loops = Array.from({ length: clients }, async (_, i) => {
    for (let n = i; running; n++) {
      const path = paths[n % paths.length]!;
      try {
        const res = await fetchReply(base + path);
        if (res.status !== 200) failures.push(`${path}: ${res.status} ${res.text.slice(0, 200)}`);
        else {
          ok++;
          bodies.set(res.text, (bodies.get(res.text) ?? 0) + 1);
        }
      } catch (err) {
        failures.push(`${path}: ${(err as Error).message}`);
      }
    }
  });
  return {
    failures,
    get ok() {
      return ok;
    },
    seen: (body: string) => bodies.get(body) ?? 0,
    /** Resolves once `n` more requests succeeded. */
    more: (n: number) => {
      const target = ok + n;
      return until(() => ok >= target || failures.length > 0, `${n} more answers under load`);
    },
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}
