// Dot-segment removal of request targets (RFC 3986 §5.2.4, percent-encoded dots
// per §2.3 / §6.2.2.2): src/http/url-path.ts. Pure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { removeDotSegments } from '../../src/http/url-path.js';

describe('removeDotSegments: targets kept or rewritten', () => {
  const cases: { name: string; target: string; want: string }[] = [
    { name: 'a plain path is unchanged', target: '/a/b.css', want: '/a/b.css' },
    { name: 'the root is unchanged', target: '/', want: '/' },
    { name: 'dots inside a segment are not dot segments', target: '/a/..b/c..', want: '/a/..b/c..' },
    { name: 'a dot file is not a dot segment', target: '/.well-known/x', want: '/.well-known/x' },
    { name: '§5.2.4 "." is removed', target: '/a/./b', want: '/a/b' },
    { name: '§5.2.4 ".." removes the segment before it', target: '/a/b/../c', want: '/a/c' },
    { name: '§5.2.4 a trailing "." leaves the directory', target: '/a/.', want: '/a/' },
    { name: '§5.2.4 a trailing ".." leaves the parent directory', target: '/a/b/..', want: '/a/' },
    { name: '§5.2.4 ".." back to the root', target: '/a/..', want: '/' },
    { name: '§2.3 %2e is a dot', target: '/a/%2e%2e/b', want: '/b' },
    { name: '§2.3 %2E and mixed forms are dots', target: '/a/b/.%2E/%2e/c', want: '/a/c' },
    { name: 'the query is left alone', target: '/a/../b?x=/../y', want: '/b?x=/../y' },
    { name: 'empty segments are kept (not collapsed)', target: '//a/b', want: '//a/b' },
    { name: 'an encoded slash without dots is kept', target: '/a%2Fb/c', want: '/a%2Fb/c' },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(removeDotSegments(c.target), { ok: true, target: c.want }));
});

describe('removeDotSegments: targets refused', () => {
  const cases: { name: string; target: string; reason: RegExp }[] = [
    { name: 'climbing above the root', target: '/../private/key', reason: /above the root/ },
    { name: 'climbing above the root with encoded dots', target: '/%2e%2e/private/key', reason: /above the root/ },
    { name: 'climbing above the root further down', target: '/a/../../private', reason: /above the root/ },
    { name: 'a dot segment behind an encoded slash', target: '/..%2fprivate/key', reason: /encoded slash or a backslash/ },
    { name: 'a dot segment behind an encoded backslash', target: '/a/%2e%2e%5Cprivate', reason: /encoded slash or a backslash/ },
    { name: 'a dot segment behind a backslash', target: '/a/..\\private', reason: /encoded slash or a backslash/ },
    { name: 'a dot segment before a path parameter', target: '/public/..;/account/secret', reason: /path parameter/ },
    { name: 'an encoded dot segment before a path parameter', target: '/public/%2e%2e;x/account/', reason: /path parameter/ },
    { name: 'a single dot before a path parameter', target: '/a/.;x/b', reason: /path parameter/ },
    { name: 'a dot segment before an encoded semicolon', target: '/public/..%3b/account/', reason: /path parameter/ },
    { name: 'encoded dots before an encoded semicolon', target: '/public/%2e%2e%3Bx/account/', reason: /path parameter/ },
    { name: 'a dot segment with a parameter behind an encoded slash', target: '/public/a%2f..;/account/', reason: /path parameter/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = removeDotSegments(c.target);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, c.reason);
    });
  }
});
