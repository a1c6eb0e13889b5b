// The request fields sent to the origin: src/pipeline/forward-headers.ts. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DROPPED_FIELDS, forwardHeaders } from '../../src/pipeline/forward-headers.js';

const CTX = { clientAddress: '203.0.113.9', clientHost: 'site.example', originHost: 'origin.internal', via: '1.1 n1' };

test('override fields are dropped by default; other end-to-end fields pass', () => {
  const client: Record<string, string> = { 'x-kept': 'yes' };
  for (const f of DEFAULT_DROPPED_FIELDS) client[f] = 'client value';
  const out = forwardHeaders(client, CTX);
  for (const f of DEFAULT_DROPPED_FIELDS) assert.equal(out[f], undefined, f);
  assert.equal(out['x-kept'], 'yes');
  assert.equal(out['host'], 'origin.internal');
});

test('a given list replaces the default one', () => {
  const out = forwardHeaders({ 'x-original-url': '/a', 'x-tenant': 't1' }, { ...CTX, droppedFields: new Set(['x-tenant']) });
  assert.equal(out['x-original-url'], '/a');
  assert.equal(out['x-tenant'], undefined);
});
