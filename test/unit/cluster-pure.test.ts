// The cluster's pure pieces: rendezvous ranking (stable, balanced, minimal
// movement), peer proofs (HMAC over method, target, time and sender; bounded
// skew; forged claims stripped) and the wire form of a purge.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rank } from '../../src/cluster/ownership.js';
import { bodyMatches, checkPeer, MAX_SKEW_MS, peerProof } from '../../src/cluster/peer-auth.js';
import { parseWirePurge } from '../../src/cluster/purge-wire.js';
import type { HeaderMap } from '../../src/http/headers.js';

const members = (...ids: string[]) => ids.map((id) => ({ id }));

test('rendezvous: every node ranks a key alike, whatever the order it lists members in', () => {
  for (let i = 0; i < 200; i++) {
    const a = rank(`k${i}`, members('a', 'b', 'c')).map((m) => m.id);
    const b = rank(`k${i}`, members('c', 'a', 'b')).map((m) => m.id);
    assert.deepEqual(a, b);
  }
});

test('rendezvous: keys spread evenly; removing a member moves only its own keys, to their next choice', () => {
  const owners = new Map<string, string>();
  const count: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 30_000; i++) {
    const o = rank(`/obj/${i}`, members('a', 'b', 'c'))[0]!.id;
    owners.set(`/obj/${i}`, o);
    count[o]!++;
  }
  for (const n of Object.values(count)) assert.ok(Math.abs(n - 10_000) < 500, `balanced: ${JSON.stringify(count)}`);
  for (const [k, o] of owners) {
    const after = rank(k, members('a', 'b'))[0]!.id;
    if (o !== 'c') assert.equal(after, o, 'keys of the others stay put');
    else assert.equal(after, rank(k, members('a', 'b', 'c'))[1]!.id, "c's keys go to their second choice");
  }
});

test('peer proof: valid within the skew, refused when stale, tampered or keyed differently; a refused claim loses its fields', () => {
  const now = 1_800_000_000_000;
  const proof = peerProof('s3cret', 'node-a', 'GET', '/x?y=1', now);
  assert.deepEqual(checkPeer('s3cret', 'GET', '/x?y=1', { ...proof }, now + MAX_SKEW_MS), { peer: 'node-a' });
  const cases: [string, string, string, HeaderMap, number][] = [
    ['stale', 'GET', '/x?y=1', { ...proof }, now + MAX_SKEW_MS + 1],
    ['other target', 'GET', '/x?y=2', { ...proof }, now],
    ['other method', 'POST', '/x?y=1', { ...proof }, now],
    ['other sender', 'GET', '/x?y=1', { ...proof, 'strata-peer': 'node-b' }, now],
    ['no signature', 'GET', '/x?y=1', { 'strata-peer': 'node-a' }, now],
  ];
  for (const [what, method, target, headers, at] of cases) {
    assert.deepEqual(checkPeer('s3cret', method, target, headers, at), { peer: undefined, forged: true }, what);
    assert.equal(headers['strata-peer'], undefined, `${what}: fields removed`);
  }
  assert.deepEqual(checkPeer('other', 'GET', '/x?y=1', { ...proof }, now), { peer: undefined, forged: true });
  assert.deepEqual(checkPeer('', 'GET', '/x?y=1', { ...proof }, now), { peer: undefined, forged: true }, 'no secret: no peer');
  assert.deepEqual(checkPeer('s3cret', 'GET', '/x', {}, now), { peer: undefined, forged: false });
});

test('peer proof with a body: bound to its digest; another body or digest is refused', () => {
  const now = 1_800_000_000_000;
  const body = Buffer.from('{"id":"a:1"}');
  const proof = peerProof('s3cret', 'node-a', 'POST', '/purge', now, body);
  const headers: HeaderMap = { ...proof };
  assert.deepEqual(checkPeer('s3cret', 'POST', '/purge', headers, now), { peer: 'node-a' });
  assert.ok(bodyMatches(headers, body));
  assert.ok(!bodyMatches(headers, Buffer.from('{"all":true}')), 'a captured proof does not carry another body');
  const swapped: HeaderMap = { ...proof, 'strata-peer-body': peerProof('s3cret', 'node-a', 'POST', '/purge', now, 'x')['strata-peer-body']! };
  assert.deepEqual(checkPeer('s3cret', 'POST', '/purge', swapped, now), { peer: undefined, forged: true }, 'the digest is part of the MAC');
});

test('wire purge: strict shape', () => {
  const ok = { id: 'a:1', from: 'a', selector: { primaryKeys: [], paths: ['/x'], urlPrefixes: [], pathPrefixes: [], tags: [], all: false }, softAtMs: 5 };
  assert.deepEqual(parseWirePurge(JSON.stringify(ok)), ok);
  assert.match(String(parseWirePurge('{')), /^not JSON/);
  assert.equal(parseWirePurge(JSON.stringify({ ...ok, selector: { ...ok.selector, paths: [1] } })), 'selector.paths must be a list of strings');
  assert.equal(parseWirePurge(JSON.stringify({ ...ok, selector: { ...ok.selector, all: 'yes' } })), 'selector.all must be true or false');
});
