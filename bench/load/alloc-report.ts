// What a sampled heap profile (sample-allocations.ts) says per request: bytes allocated by each
// function itself (not its callees), and by where the code lives (Strata's files by name; Node's,
// undici's and V8's own as one line each).
// usage: node dist/bench/load/alloc-report.js PROFILE REQUESTS [TOP]

import { readFileSync } from 'node:fs';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const [file, requestsArg, topArg] = process.argv.slice(2);
if (!file || !requestsArg) {
  process.stderr.write('usage: alloc-report.js PROFILE REQUESTS [TOP]\n');
  process.exit(2);
}
const requests = Number(requestsArg);
const top = Number(topArg ?? 30);
const root = (JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode }).head;

const byFunction = new Map<string, number>();
const byPlace = new Map<string, number>();
let total = 0;
const add = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);
/** Strata's files by their path under src/ (or bench/), the rest by who wrote them. */
function place(url: string, fn: string): string {
  const own = /\/dist\/((?:src|bench)\/.*)$/.exec(url);
  if (own) return own[1]!;
  if (url.includes('/node_modules/')) return url.replace(/.*\/node_modules\/(@[^/]+\/[^/]+|[^/]+)\/.*/, '$1');
  if (url.startsWith('node:')) return 'node';
  return fn ? `(${fn})` : '(V8)';
}
const stack: ProfileNode[] = [root];
while (stack.length > 0) {
  const n = stack.pop()!;
  stack.push(...n.children);
  if (n.selfSize === 0) continue;
  total += n.selfSize;
  const { functionName, url, lineNumber } = n.callFrame;
  const where = place(url, functionName);
  add(byFunction, `${functionName || '(anonymous)'} ${url ? `${where}:${lineNumber + 1}` : ''}`, n.selfSize);
  add(byPlace, where, n.selfSize);
}
const kib = (n: number) => (n / 1024 / requests).toFixed(2).padStart(7);
const list = (m: Map<string, number>) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, n]) => `${kib(n)}  ${k}`)
    .join('\n');
process.stdout.write(`${kib(total)}  KiB a request in all\n\nby function (KiB a request):\n${list(byFunction)}\n\nby place:\n${list(byPlace)}\n`);
