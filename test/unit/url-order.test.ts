// The URL order (src/store/url-order.ts) a prefix purge counts with: after any
// mix of insertions and removals, a prefix's run holds exactly the stored entries
// whose URL starts with it, and a selector's path prefixes reach every authority
// stored, each entry counted once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UrlOrder } from '../../src/store/url-order.js';
import { pathOfUrl } from '../../src/store/purge/purge-match.js';
import { seededRandom } from '../fixtures/seeded-random.js';

/** A small deterministic generator (mulberry32), so a failure can be replayed. */

// Authorities that are prefixes of one another and sort around each other's paths.
const AUTHORITIES = ['http://h', 'http://h.x', 'http://h:8080', 'http://ha', 'http://h-'];
const SEGMENTS = ['a', 'a.mp4', 'ab', 'b', 'videos', '2024', '', 'x?y=1'];

function urlFrom(rnd: () => number): string {
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd() * list.length)]!;
  let path = '';
  const depth = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < depth; i++) path += '/' + pick(SEGMENTS);
  return pick(AUTHORITIES) + path;
}

for (const byKey of [true, false]) test(`URL order${byKey ? '' : ' without a map by key (the disk tier\'s)'}: prefix runs match a brute-force count through thousands of insertions and removals`, () => {
  const rnd = seededRandom(42);
  const order = new UrlOrder({ byKey });
  const stored = new Map<string, string>(); // key → url
  const prefixes = ['http://h/', 'http://h/a', 'http://h/a/', 'http://h.x/videos/20', 'http://ha', 'http://h', 'http://z', 'http://h:8080/x?y=1'];
  const check = (when: string) => {
    for (const p of prefixes) {
      const expected = [...stored].filter(([, u]) => u.startsWith(p)).map(([k]) => k).sort();
      assert.equal(order.countRuns([p]), expected.length, `${p} ${when}`);
      assert.deepEqual([...order.keysIn([p])].sort(), expected, `${p} ${when}`);
    }
  };
  for (let step = 0; step < 20_000; step++) {
    // Checked along the way too: removals leave blocks' separators above their last pairs.
    if (step % 2_500 === 0) check(`at step ${step}`);
    const url = urlFrom(rnd);
    const key = `GET ${url}#${Math.floor(rnd() * 3)}`;
    if (stored.has(key) && rnd() < 0.6) {
      order.remove(key, url);
      stored.delete(key);
    } else {
      order.add(url, key);
      stored.set(key, url);
    }
  }
  assert.equal(order.size, stored.size);
  assert.ok(stored.size > 1000, 'enough entries for several blocks');
  check('at the end');
  // Remove everything: no run is left, and no empty block either.
  for (const [k, u] of stored) order.remove(k, u);
  assert.equal(order.size, 0);
  assert.equal(order.countRuns(['http://']), 0);
});

test('URL order: path prefixes become one run per authority stored; nested prefixes count once', () => {
  const rnd = seededRandom(7);
  const order = new UrlOrder();
  const urls: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const url = urlFrom(rnd);
    order.add(url, `GET ${url}`);
    if (!urls.includes(url)) urls.push(url);
  }
  const count = (urlPrefixes: string[], pathPrefixes: string[]) => order.countRuns(order.prefixRuns(urlPrefixes, pathPrefixes)!);
  const brute = (urlPrefixes: string[], pathPrefixes: string[]) =>
    urls.filter((u) => urlPrefixes.some((p) => u.startsWith(p)) || pathPrefixes.some((p) => pathOfUrl(u).startsWith(p))).length;
  for (const [up, pp] of [
    [[], ['/a']],
    [[], ['/a/', '/a', '/ab']],
    [['http://h/videos/'], ['/videos/2024']],
    [['http://h.x/', 'http://h.x/a'], ['/b']],
    [['http://h', 'http://h:8080/'], []],
  ] as [string[], string[]][]) {
    assert.equal(count(up, pp), brute(up, pp), JSON.stringify([up, pp]));
  }
  // Half removed: the authorities are still each found once, the runs still exact.
  for (let i = urls.length - 1; i >= 0; i -= 2) order.remove(`GET ${urls.splice(i, 1)[0]!}`);
  for (const [up, pp] of [
    [[], ['/a']],
    [['http://h.x/', 'http://h.x/a'], ['/b']],
    [['http://h', 'http://h:8080/'], ['/videos/']],
  ] as [string[], string[]][]) {
    assert.equal(count(up, pp), brute(up, pp), `after removals: ${JSON.stringify([up, pp])}`);
  }
  assert.equal(order.prefixRuns([], ['a']), undefined, 'a path prefix not starting with "/" could reach into the authority');
});

// The blocks' separators are searched by number first: six characters after the prefix every URL shares
// (url-order.ts fingerprint). The order must not depend on it: URLs that differ inside those six characters
// or only after them, end within them, carry characters past 255 or NUL there, and URLs of another authority
// arriving late (the shared prefix shortened while thousands of separators stand).
for (const byKey of [true, false]) test(`URL order${byKey ? '' : ' without a map by key'}: the separators' numbers keep runs exact for URLs sharing a long prefix, past 255 and NUL characters, and a prefix shortened late`, () => {
  const rnd = seededRandom(11);
  const order = new UrlOrder({ byKey });
  const stored = new Map<string, string>();
  const base = 'http://cdn.example.com/videos/2026/';
  const tails = ['', 'a', 'ab', 'abcdef', 'abcdefg', 'abcdeg', '\u0000', '\u00ff', '\u0100x', '\u4e2d', '\uffff', 'zzzzzzzz', '1', '12'];
  const pick = () => tails[Math.floor(rnd() * tails.length)]!;
  const prefixes = [base, `${base}a`, `${base}abcde`, `${base}abcdef`, `${base}\u0100`, `${base}\uffff`, `${base}1`, 'http://cdn.example.org/', 'http://cdn.example.'];
  const check = (when: string) => {
    for (const p of prefixes) {
      const expected = [...stored].filter(([, u]) => u.startsWith(p)).map(([k]) => k).sort();
      assert.deepEqual([...order.keysIn([p])].sort(), expected, `${JSON.stringify(p)} ${when}`);
    }
  };
  for (let step = 0; step < 12_000; step++) {
    if (step % 3_000 === 0) check(`at step ${step}`);
    // Another authority from step 6,000: the prefix every URL shares becomes "http://cdn.example.".
    const root = step >= 6_000 && rnd() < 0.3 ? 'http://cdn.example.org/' : base;
    const url = root + pick() + pick() + (rnd() < 0.5 ? String(Math.floor(rnd() * 100)) : '');
    const key = `GET ${url}`;
    if (stored.has(key) && rnd() < 0.5) {
      order.remove(key, url);
      stored.delete(key);
    } else if (!stored.has(key)) {
      order.add(url, key);
      stored.set(key, url);
    }
  }
  assert.ok(stored.size > 500, `enough entries for several blocks (${stored.size})`);
  check('at the end');
});
