// The error catalog and the operator's documentation agree: every code is listed
// in CACHING.md with its status, and the docs list no code that does not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CATALOG } from '../../src/errors.js';

const doc = readFileSync(new URL('../../../CACHING.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('## Errors'), doc.indexOf('## Deviations'));
const rows = new Map<string, string>();
for (const m of section.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \|/gm)) rows.set(m[1]!, m[2]!.trim());

test('every error code is documented in CACHING.md with its status', () => {
  for (const [code, spec] of Object.entries(ERROR_CATALOG)) {
    assert.ok(rows.has(code), `${code} missing from CACHING.md#errors`);
    assert.equal(rows.get(code), spec.status === 0 ? '—' : String(spec.status), `status of ${code}`);
  }
});

test('CACHING.md documents no code the catalog lacks', () => {
  for (const code of rows.keys()) assert.ok(code in ERROR_CATALOG, `${code} is documented but not in src/errors.ts`);
});

test('a client is told the operator\'s message only for its own request (client, config); origin, store and internal errors get the catalog\'s line', async () => {
  const { StrataError } = await import('../../src/errors.js');
  assert.equal(new StrataError('BAD_REQUEST', 'request target has a fragment').clientMessage, 'request target has a fragment');
  for (const code of ['INTERNAL', 'STORE_FAILED', 'ORIGIN_UNREACHABLE'] as const) {
    const e = new StrataError(code, "ENOENT: no such file or directory, open '/var/cache/strata/content-v2/sha256/ab' via 10.0.0.7:8080");
    assert.doesNotMatch(e.clientMessage, /ENOENT|\/var\/cache|10\.0\.0\.7/, code);
    assert.ok(e.clientMessage.length > 0, code);
  }
});

test('a refusal\'s client text comes from the catalog rule without an error object: the operator\'s message for a client-side code, the catalog line for an origin-side one', async () => {
  const { clientMessageOf, StrataError } = await import('../../src/errors.js');
  assert.equal(clientMessageOf('RATE_LIMITED', 'request rate limit exceeded; retry after 3 s'), 'request rate limit exceeded; retry after 3 s');
  const cause = 'auth service http://10.0.0.7:9000/verify answered 500';
  assert.equal(clientMessageOf('AUTH_UNAVAILABLE', cause), ERROR_CATALOG.AUTH_UNAVAILABLE.summary);
  for (const code of Object.keys(ERROR_CATALOG) as (keyof typeof ERROR_CATALOG)[]) {
    assert.equal(clientMessageOf(code, cause), new StrataError(code, cause).clientMessage, `${code}: one rule for both`);
  }
});
