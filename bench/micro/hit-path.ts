// Micro-benchmarks of the pure steps a cache hit (and a fill) goes through, with
// tinybench. Each task runs its step INNER times per sample, so the timer's own
// cost (tens of ns) does not swamp steps that take tens of ns; figures are per
// single call.

import { Bench } from 'tinybench';
import { primaryKey } from '../../src/cache/key.js';
import { decide, requestFacts, type GraceWindows } from '../../src/cache/decide.js';
import { assessStorage, type StorageInput, type StoragePolicyOptions } from '../../src/cache/storable.js';
import type { HeaderMap } from '../../src/http/headers.js';
import { MemoryTier } from '../../src/store/memory/memory.js';
import type { EntryMeta } from '../../src/store/types.js';
import { newEntryMeta } from '../../src/cache/entry.js';
import { createBalancer, type UpstreamView } from '../../src/origin/balancer.js';
import { emptySelector, selectorMatcher } from '../../src/store/purge/purge-match.js';
import { sitesKind } from '../../src/config/sites.js';
import type { Config } from '../../src/config/types.js';
import { Router } from '../../src/routing/router.js';
import type { RoutePool } from '../../src/routing/route-table.js';
import { DrainSet } from '../../src/routing/drain.js';
import { Negotiator } from '../../src/transform/negotiate.js';
import { chooseVariant, planFor } from '../../src/transform/select.js';
import { COMPRESSIBLE_TYPES } from '../../src/config/schema/compress.js';

export interface MicroResult {
  name: string;
  opsPerSec: number;
  meanNs: number;
  p99Ns: number;
  /** Relative margin of error of the mean, percent. */
  rmePct: number;
  samples: number;
}

const INNER = 1000;
/** Results are folded in here so the steps cannot be optimised away. */
let sink = 0;

/** Request fields a browser typically sends for a static asset (no Cache-Control). */
const browserRequest: HeaderMap = {
  host: 'static.example.com',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  accept: 'text/css,*/*;q=0.1',
  'accept-language': 'en-GB,en;q=0.7,fr;q=0.3',
  'accept-encoding': 'gzip, deflate, br, zstd',
  referer: 'https://static.example.com/index.html',
  connection: 'keep-alive',
};

const originResponse: HeaderMap = {
  date: new Date().toUTCString(),
  server: 'nginx',
  'content-type': 'text/css; charset=utf-8',
  'content-length': '1024',
  'cache-control': 'public, max-age=60',
  etag: '"65f1c2a8-400"',
  'last-modified': new Date(Date.now() - 86_400_000).toUTCString(),
  'accept-ranges': 'bytes',
};

const policyOpts: StoragePolicyOptions = {
  targetedField: 'strata-cache-control',
  storeSetCookie: false,
  heuristicFraction: 0.1,
  heuristicMaxS: 86_400,
};

function storageInput(url: string): StorageInput {
  const now = Date.now();
  return { method: 'GET', url, requestHeaders: browserRequest, status: 200, responseHeaders: originResponse, requestTimeMs: now - 3, responseTimeMs: now };
}

/** A stored entry as the proxy builds it from assessStorage's decision. */
function entryMeta(path: string): EntryMeta {
  const key = primaryKey('http', 'static.example.com', path);
  const input = storageInput(key.slice(4));
  const v = assessStorage(input, policyOpts);
  if (!v.store) throw new Error(`typical response not storable: ${v.reason}`);
  return newEntryMeta(v.decision, {
    key,
    primaryKey: key,
    url: key.slice(4),
    status: 200,
    varyValues: {},
    requestTimeMs: input.requestTimeMs,
    responseTimeMs: input.responseTimeMs,
    bodySize: 1024,
  });
}

export async function runMicro(opts: { timeMs?: number } = {}): Promise<MicroResult[]> {
  const bench = new Bench({ time: opts.timeMs ?? 1000, warmupTime: 250, iterations: 32 });

  const targets = Array.from({ length: 64 }, (_, i) => `/assets/app.${i.toString(16)}.js?v=20240611`);
  bench.add('primaryKey()', () => {
    for (let i = 0; i < INNER; i++) sink += primaryKey('http', 'Static.Example.com:80', targets[i & 63]!).length;
  });

  // 10,000 entries of 1 KiB each, well within the tier's byte budget.
  const tier = new MemoryTier({ maxBytes: 256 * 1024 * 1024, maxObjectBytes: 8 * 1024 * 1024 });
  const body = Buffer.alloc(1024, 'x');
  const keys: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const meta = entryMeta(`/assets/file-${i}.css?v=3`);
    if (!tier.put(meta, body)) throw new Error('memory tier refused a bench entry');
    keys.push(meta.key);
  }
  if (tier.stats().items !== 10_000) throw new Error(`memory tier holds ${tier.stats().items} entries, not 10000`);
  // Walk the keys with a stride so successive look-ups hit unrelated entries.
  let k = 0;
  bench.add('MemoryTier.peek() [10k entries]', () => {
    for (let i = 0; i < INNER; i++) {
      k = (k + 7919) % 10_000;
      sink += tier.peek(keys[k]!)!.body.size;
    }
  });

  const meta = entryMeta('/assets/app.css');
  // The cache decision as the request path takes it: request facts parsed once, then decide().
  const grace: GraceWindows = { staleWhileRevalidateS: 0, staleIfErrorS: 0, staleIfDisconnectedS: 0 };
  bench.add('requestFacts()+decide() [no request CC]', () => {
    const nowMs = Date.now();
    for (let i = 0; i < INNER; i++) {
      const d = decide({ request: requestFacts(browserRequest), stored: meta, miss: 'uri-miss', nowMs, grace });
      if (d.kind === 'hit') sink++;
    }
  });
  const reloadRequest: HeaderMap = { ...browserRequest, 'cache-control': 'max-age=0' };
  bench.add('requestFacts()+decide() [CC max-age=0]', () => {
    const nowMs = Date.now();
    for (let i = 0; i < INNER; i++) {
      const d = decide({ request: requestFacts(reloadRequest), stored: meta, miss: 'uri-miss', nowMs, grace });
      if (d.kind !== 'hit') sink++;
    }
  });

  const input = storageInput('http://static.example.com/assets/app.css');
  bench.add('assessStorage() [200, max-age=60]', () => {
    for (let i = 0; i < INNER; i++) {
      const v = assessStorage(input, policyOpts);
      if (v.store) sink += v.decision.freshnessLifetimeS;
    }
  });

  // The balancer's choice on every origin fetch (a fill or a pass-through).
  for (const n of [3, 16]) {
    const pool: UpstreamView[] = Array.from({ length: n }, (_, i) => ({
      name: `http://10.0.0.${i + 1}:9000`,
      weight: 1 + (i % 3),
      inFlight: i % 5,
      cost: () => 2 + (i % 7),
    }));
    for (const name of ['round-robin', 'least-connections', 'p2c-ewma', 'consistent-hash'] as const) {
      const b = createBalancer(name);
      bench.add(`balancer ${name} [${n} upstreams]`, () => {
        for (let i = 0; i < INNER; i++) sink += b.pick(pool, targets[i & 63]!).weight;
      });
    }
  }

  // A purge's pass over a tier: one selector test per stored entry (half of them match).
  const stored = Array.from({ length: 1024 }, (_, i) => entryMeta(`/videos/${i % 2 ? '2024' : '2023'}/clip-${i}.mp4`));
  const byPrefix = selectorMatcher({ ...emptySelector(), pathPrefixes: ['/videos/2024/'] });
  bench.add('purge selector per entry [path prefix]', () => {
    for (let i = 0; i < INNER; i++) if (byPrefix(stored[i & 1023]!)) sink++;
  });
  const byUrlPrefix = selectorMatcher({ ...emptySelector(), urlPrefixes: ['http://static.example.com/videos/2024/'] });
  bench.add('purge selector per entry [URL prefix]', () => {
    for (let i = 0; i < INNER; i++) if (byUrlPrefix(stored[i & 1023]!)) sink++;
  });

  // Routing, once per request: the implicit site (no sites: every node before
  // sites), and 20 sites of 5 routes each (wildcards, a canary split by cookie).
  const fakePool = (): RoutePool => ({
    host: 'o', name: 'o', request: () => Promise.reject(new Error('unused')), close: async () => {}, stats: () => ({}),
    start: () => {}, figures: () => [], anyAvailable: () => true, hasOpen: () => true, counts: { retries: 0, retriesRefused: 0, allDownRequests: 0 },
  });
  const routerFor = (sites: Config['sites']) =>
    new Router({ sites, origin: { upstreams: [{ url: 'http://o', weight: 1, maxConnections: 1 }] } } as unknown as Config, { makePool: fakePool, drains: new DrainSet() });
  const implicit = routerFor([]);
  const many = routerFor(
    sitesKind().parse(
      Object.fromEntries(
        Array.from({ length: 20 }, (_, i) => [
          `s${i}`,
          {
            hosts: [`site${i}.example.com`, `*.site${i}.example.com`],
            routes: {
              all: { path: '/', upstream: 'http://o' },
              api: { path: '/api/', upstream: 'http://o', canary: { upstream: 'http://c', percent: 5, by: 'cookie', name: 'sc' } },
              img: { path: '/img/', upstream: 'http://o' },
              v2: { path: '/api/v2/', upstream: 'http://o' },
              docs: { path: '/docs', upstream: 'http://o' },
            },
          },
        ]),
      ),
    ),
  );
  const routeHeaders: HeaderMap = { cookie: 'sc=0123456789abcdef; other=1' };
  const routeClient = { remoteAddress: '10.0.0.1' };
  bench.add('router.resolve() [no sites]', () => {
    for (let i = 0; i < INNER; i++) if (implicit.resolve('static.example.com', targets[i & 63]!, routeHeaders, routeClient).kind === 'routed') sink++;
  });
  bench.add('router.resolve() [20 sites × 5 routes, wildcard, canary by cookie]', () => {
    for (let i = 0; i < INNER; i++) if (many.resolve(`www.site${i % 20}.example.com`, '/api/users?id=1', routeHeaders, routeClient).kind === 'routed') sink++;
  });

  // A hit on a URL stored in three codings: negotiation (memoised), the variant choice, the plan.
  const negotiator = new Negotiator(['br', 'gzip']);
  const coded = ['identity', 'br', 'gzip'].map((c) => ({
    ...entryMeta('/assets/app.js'),
    key: `GET http://static.example.com/assets/app.js\naccept-encoding=${c}\n`,
    varyNames: ['accept-encoding'],
    varyValues: { 'accept-encoding': c },
    byCoding: true,
    bodySize: 40_000,
  }));
  const browsers: HeaderMap[] = ['gzip, deflate, br, zstd', 'gzip, deflate, br', 'br;q=1.0, gzip;q=0.8, *;q=0.1', 'gzip'].map((v) => ({ 'accept-encoding': v }));
  const rules = { types: COMPRESSIBLE_TYPES, minBytes: 1024 };
  bench.add('chooseVariant()+planFor() [3 codings stored]', () => {
    for (let i = 0; i < INNER; i++) {
      const req = browsers[i & 3]!;
      const acc = negotiator.acceptance(req['accept-encoding']);
      const m = chooseVariant(coded, req, acc).meta as EntryMeta;
      if (planFor(m, m.bodySize, 'GET', acc, rules) === undefined) sink++;
    }
  });

  await bench.run();
  const out = microResults(bench, () => INNER);
  if (sink === -1) console.log('unreachable');
  return out;
}

/** Each task's figures per call, `inner(name)` calls making one of its iterations. */
export function microResults(bench: Bench, inner: (task: string) => number): MicroResult[] {
  return bench.tasks.map((task) => {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`micro-benchmark ${task.name}: ${r.state}${r.state === 'errored' ? `: ${r.error.message}` : ''}`);
    const n = inner(task.name);
    const meanNs = (r.latency.mean * 1e6) / n;
    return { name: task.name, opsPerSec: 1e9 / meanNs, meanNs, p99Ns: (r.latency.p99 * 1e6) / n, rmePct: r.latency.rme, samples: r.latency.samplesCount };
  });
}
