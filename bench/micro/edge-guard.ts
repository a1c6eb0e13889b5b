// Micro-benchmarks of the edge guard's per-request work (tinybench): what a
// request pays before the cache when filters, a rate limit, a remembered
// forward-auth decision or a JWT check are on. Figures are per request.

import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { Bench } from 'tinybench';
import { filterRules } from '../../src/config/edge-kinds.js';
import { defaultConfig } from '../../src/config/defaults.js';
import type { EdgeConfig } from '../../src/config/types.js';
import { RequestFilter } from '../../src/routing/guard/filters.js';
import { ForwardAuth } from '../../src/routing/guard/forward-auth.js';
import { Guard } from '../../src/routing/guard/guard.js';
import { JwtCheck } from '../../src/routing/guard/jwt.js';
import { microResults, type MicroResult } from './hit-path.js';

let sink = 0;

const RULES = filterRules().parse([
  { name: 'admin-from-office', action: 'allow', paths: ['/admin/'], addresses: ['10.20.0.0/16', '2001:db8:20::/48'] },
  { name: 'admin-elsewhere', action: 'deny', paths: ['/admin/'] },
  { name: 'secret-files', action: 'deny', paths: ['/**.env', '~* /\\.git/', '/**.bak'] },
  { name: 'scanners', action: 'deny', headers: { 'user-agent': '~* (sqlmap|nikto|masscan)' } },
  { name: 'read-only', action: 'deny', methods: ['POST', 'PUT', 'PATCH', 'DELETE'] },
]);

const headers = {
  host: 'static.example.com',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  accept: 'text/css,*/*;q=0.1',
  cookie: 'session=3f9a0c1b7e5d4a2f8c6b1e0d9a7f5c3b; theme=dark',
};

function rules(change: Partial<EdgeConfig>): EdgeConfig {
  return { ...defaultConfig('bench').edge, ...change };
}

export async function runEdgeMicro(opts: { timeMs?: number } = {}): Promise<MicroResult[]> {
  const bench = new Bench({ time: opts.timeMs ?? 1000, warmupTime: 250, iterations: 32 });
  const inner = new Map<string, number>();
  const clock = { now: () => Date.now() };
  const readFile = () => '';
  const targets = Array.from({ length: 64 }, (_, i) => `/assets/app.${i.toString(16)}.js?v=20240611`);
  const addresses = Array.from({ length: 1000 }, (_, i) => `198.51.${i >> 8}.${i & 255}`);

  const filter = new RequestFilter(RULES);
  inner.set('RequestFilter.deniedBy() [5 rules, passes]', 1000);
  bench.add('RequestFilter.deniedBy() [5 rules, passes]', () => {
    for (let i = 0; i < 1000; i++) if (filter.deniedBy({ method: 'GET', target: targets[i & 63]!, headers, clientAddress: addresses[i % 1000]! }) === undefined) sink++;
  });

  const guard = new Guard(rules({ filters: RULES, rateLimit: { requestsPerS: 1e9, burst: 1e9, by: 'address', header: '', maxClients: 100_000 } }), { clock, readFile });
  inner.set('Guard.check() [5 rules + rate limit, 1000 clients]', 1000);
  bench.add('Guard.check() [5 rules + rate limit, 1000 clients]', () => {
    for (let i = 0; i < 1000; i++) {
      const v = guard.check({ method: 'GET', target: targets[i & 63]!, host: 'static.example.com', scheme: 'http', headers, clientAddress: addresses[i % 1000]! });
      if (!(v instanceof Promise) && v.pass) sink++;
    }
  });

  const fa = new ForwardAuth({ ...defaultConfig('bench').edge.forwardAuth, url: 'http://127.0.0.1:9/verify', cacheTtlMs: 3_600_000 }, clock);
  const q = { method: 'GET', target: '/x', host: 'static.example.com', scheme: 'http', headers, clientAddress: '198.51.100.7' };
  // Remember one decision without a server: seed the cache through a settled question.
  (fa as unknown as { remembered: { set(k: string, v: unknown): void } }).remembered.set(
    (fa as unknown as { keyOf(q: unknown): string }).keyOf(q),
    { decision: { kind: 'allow', identity: {} }, untilMs: Date.now() + 3_600_000 },
  );
  inner.set('ForwardAuth.check() [remembered decision]', 1000);
  bench.add('ForwardAuth.check() [remembered decision]', () => {
    for (let i = 0; i < 1000; i++) {
      const d = fa.check(q);
      if (!(d instanceof Promise) && d.kind === 'allow') sink++;
    }
  });

  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const jwtRules = { ...defaultConfig('bench').edge.jwt, keyFiles: ['k.pem'] };
  const jwt = new JwtCheck(jwtRules, clock, () => pem);
  const token = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1h').sign(privateKey);
  const bearer = { authorization: `Bearer ${token}` };
  const remembered = (jwt as unknown as { verified: { clear(): void } }).verified;
  inner.set('JwtCheck.verify() [ES256, static key, first sight]', 100);
  bench.add('JwtCheck.verify() [ES256, static key, first sight]', async () => {
    for (let i = 0; i < 100; i++) {
      remembered.clear();
      if ((await jwt.verify(bearer)).kind === 'valid') sink++;
    }
  });
  inner.set('JwtCheck.verify() [remembered token]', 1000);
  bench.add('JwtCheck.verify() [remembered token]', async () => {
    for (let i = 0; i < 1000; i++) if ((await jwt.verify(bearer)).kind === 'valid') sink++;
  });

  await bench.run();
  await fa.close();

  const out = microResults(bench, (name) => inner.get(name)!);
  if (sink === -1) console.log('unreachable');
  return out;
}
