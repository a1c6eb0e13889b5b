// Balancer algorithms as tables: weights honoured, least-connections follows
// in-flight counts, p2c avoids the costly upstream, rendezvous hashing moves
// only the keys of an upstream that leaves.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createBalancer,
  LeastConnections,
  PowerOfTwoChoices,
  RendezvousHash,
  SmoothWeightedRoundRobin,
  type UpstreamView,
} from '../../src/origin/balancer.js';
import { seededRandom } from '../fixtures/seeded-random.js';

interface Fake extends UpstreamView {
  inFlight: number;
  latency: number;
}

function ups(spec: [name: string, weight: number, inFlight?: number, latency?: number][]): Fake[] {
  return spec.map(([name, weight, inFlight = 0, latency = 0]) => ({
    name,
    weight,
    inFlight,
    latency,
    cost() {
      return this.latency;
    },
  }));
}

function tally(n: number, f: (i: number) => UpstreamView): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const u = f(i);
    out[u.name] = (out[u.name] ?? 0) + 1;
  }
  return out;
}

test('round-robin: weights give exact shares, smoothly interleaved', () => {
  const cases: { weights: [string, number][]; n: number; want: Record<string, number> }[] = [
    { weights: [['a', 1], ['b', 1], ['c', 1]], n: 300, want: { a: 100, b: 100, c: 100 } },
    { weights: [['a', 1], ['b', 2], ['c', 3]], n: 600, want: { a: 100, b: 200, c: 300 } },
    { weights: [['a', 5], ['b', 1]], n: 60, want: { a: 50, b: 10 } },
  ];
  for (const { weights, n, want } of cases) {
    const rr = new SmoothWeightedRoundRobin();
    const list = ups(weights);
    assert.deepEqual(tally(n, () => rr.pick(list)), want, JSON.stringify(weights));
  }
  // nginx's example: 5,1,1 → a a b a c a a (never five a in a row).
  const rr = new SmoothWeightedRoundRobin();
  const list = ups([['a', 5], ['b', 1], ['c', 1]]);
  assert.equal(Array.from({ length: 7 }, () => rr.pick(list).name).join(''), 'aabacaa');
});

test('round-robin: an upstream leaving and coming back keeps the rotation going', () => {
  const rr = new SmoothWeightedRoundRobin();
  const [a, b, c] = ups([['a', 1], ['b', 1], ['c', 1]]) as [Fake, Fake, Fake];
  assert.deepEqual(tally(100, () => rr.pick([a, c])), { a: 50, c: 50 });
  const back = tally(300, () => rr.pick([a, b, c]));
  for (const name of ['a', 'b', 'c']) assert.ok(Math.abs(back[name]! - 100) <= 1, JSON.stringify(back));
});

test('least-connections: fewest in flight per weight wins; idle ties follow the weights', () => {
  const cases: { list: [string, number, number][]; want: string }[] = [
    { list: [['a', 1, 3], ['b', 1, 1], ['c', 1, 2]], want: 'b' },
    { list: [['a', 1, 2], ['b', 4, 4], ['c', 1, 3]], want: 'b' }, // 4/4 = 1 < 2
    { list: [['a', 2, 3], ['b', 1, 2]], want: 'a' }, // 1.5 < 2
  ];
  for (const { list, want } of cases) assert.equal(new LeastConnections().pick(ups(list)).name, want, JSON.stringify(list));
  const lc = new LeastConnections();
  const idle = ups([['a', 1], ['b', 3]]);
  assert.deepEqual(tally(400, () => lc.pick(idle)), { a: 100, b: 300 });
});

test('p2c-ewma: the slow upstream loses nearly every draw, yet is still sampled', () => {
  const p2c = new PowerOfTwoChoices(seededRandom(1));
  const list = ups([['fast1', 1, 0, 2], ['fast2', 1, 0, 3], ['slow', 1, 0, 400]]);
  const t = tally(3000, () => p2c.pick(list));
  assert.equal(t['slow'] ?? 0, 0, 'with two distinct draws the slowest of three never wins');
  assert.ok(t['fast1']! > t['fast2']!, JSON.stringify(t));
  // With two upstreams the slow one still loses, but every draw is a pair of both.
  const two = ups([['fast', 1, 0, 5], ['slow', 1, 0, 400]]);
  assert.deepEqual(tally(100, () => p2c.pick(two)), { fast: 100 });
});

test('p2c-ewma: in-flight requests raise the cost (a busy fast upstream yields)', () => {
  const p2c = new PowerOfTwoChoices(seededRandom(2));
  // (10+1)·(20+1) = 231 > (30+1)·(0+1) = 31
  const list = ups([['busy', 1, 20, 10], ['idle', 1, 0, 30]]);
  assert.equal(p2c.pick(list).name, 'idle');
});

test('p2c-ewma: an upstream with no latency sample takes one request at a time; a pool with none spreads by in-flight', () => {
  const p2c = new PowerOfTwoChoices(seededRandom(3));
  assert.equal(p2c.pick(ups([['warm', 1, 0, 20], ['cold', 1, 0, 0]])).name, 'cold', 'idle, it is tried');
  assert.equal(p2c.pick(ups([['warm', 1, 5, 20], ['cold', 1, 1, 0]])).name, 'warm', 'one request out: it waits for the answer');
  assert.equal(p2c.pick(ups([['a', 1, 3, 0], ['b', 1, 1, 0]])).name, 'b');
});

test('p2c-ewma: weight is capacity — twice the weight carries twice the in-flight at equal cost', () => {
  const p2c = new PowerOfTwoChoices(seededRandom(3));
  // (10+1)·(1+1)/1 = 22 vs (10+1)·(3+1)/2 = 22: a tie, decided at random.
  const tied = ups([['a', 1, 1, 10], ['b', 2, 3, 10]]);
  const t = tally(2000, () => p2c.pick(tied));
  assert.ok(Math.abs(t['a']! / 2000 - 0.5) < 0.05, JSON.stringify(t));
  // One more in flight on b tips it to a.
  assert.equal(p2c.pick(ups([['a', 1, 1, 10], ['b', 2, 4, 10]])).name, 'a');
  // Equal weights and costs: an even spread.
  const even = ups([['a', 2, 0, 10], ['b', 2, 0, 10], ['c', 2, 0, 10]]);
  const e = tally(30000, () => p2c.pick(even));
  for (const name of ['a', 'b', 'c']) assert.ok(Math.abs(e[name]! / 30000 - 1 / 3) < 0.03, JSON.stringify(e));
});

test('consistent-hash: the same key always lands on the same upstream', () => {
  const ch = new RendezvousHash();
  const list = ups([['a', 1], ['b', 1], ['c', 1]]);
  for (const key of ['GET http://x/1', 'GET http://x/2', 'GET http://x/über']) {
    const first = ch.pick(list, key).name;
    for (let i = 0; i < 5; i++) assert.equal(ch.pick(list, key).name, first);
    // Order of the candidate list does not matter.
    assert.equal(ch.pick([...list].reverse(), key).name, first);
    // Nor does the instance: another node computes the same home.
    assert.equal(new RendezvousHash().pick(list, key).name, first);
  }
});

test('consistent-hash: weights honoured within 5% over 30 000 keys', () => {
  const ch = new RendezvousHash();
  const list = ups([['a', 1], ['b', 2], ['c', 3]]);
  const n = 30000;
  const t = tally(n, (i) => ch.pick(list, `GET http://site/object/${i}`));
  for (const [name, w] of [['a', 1], ['b', 2], ['c', 3]] as const) {
    assert.ok(Math.abs(t[name]! / n - w / 6) < 0.05 * (w / 6) + 0.01, `${name}: ${JSON.stringify(t)}`);
  }
});

test('consistent-hash: an upstream leaving moves only its own keys; returning brings exactly them back', () => {
  const ch = new RendezvousHash();
  const list = ups([['a', 1], ['b', 1], ['c', 1], ['d', 1]]);
  const keys = Array.from({ length: 8000 }, (_, i) => `GET http://site/k${i}`);
  const before = keys.map((k) => ch.pick(list, k).name);
  const without = list.filter((u) => u.name !== 'c');
  const after = keys.map((k) => ch.pick(without, k).name);
  let moved = 0;
  for (let i = 0; i < keys.length; i++) {
    if (before[i] !== 'c') assert.equal(after[i], before[i], 'a key not homed on c must not move');
    else moved++;
  }
  // c owned about a quarter; those moved, spread over the other three.
  assert.ok(Math.abs(moved / keys.length - 0.25) < 0.03, String(moved));
  const spread = tally(keys.length, (i) => ({ name: before[i] === 'c' ? after[i]! : 'kept' }) as UpstreamView);
  for (const name of ['a', 'b', 'd']) assert.ok(spread[name]! > moved / 3 - moved * 0.1, JSON.stringify(spread));
  const again = keys.map((k) => ch.pick(list, k).name);
  assert.deepEqual(again, before);
});

test('every algorithm only ever returns a candidate', () => {
  for (const name of ['round-robin', 'least-connections', 'p2c-ewma', 'consistent-hash'] as const) {
    const b = createBalancer(name, seededRandom(9));
    const list = ups([['a', 1, 1, 5], ['b', 2, 0, 1], ['c', 1, 3, 50]]);
    for (let i = 0; i < 200; i++) {
      const subset = list.filter((_, j) => (i >> j) % 2 === 0 || j === i % 3);
      assert.ok(subset.includes(b.pick(subset, `k${i}`) as Fake), name);
    }
  }
});
