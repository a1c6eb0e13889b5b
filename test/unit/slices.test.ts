// What ties the slices of one object version together (src/pipeline/slices.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { objectValidator, sliceKey } from '../../src/cache/slicing.js';

const LM = 'Tue, 01 Sep 2026 10:00:00 GMT';

test('a strong ETag is the validator', () => assert.equal(objectValidator({ etag: '"abc"', 'last-modified': LM }), '"abc"'));
test('a weak ETag cannot tie byte ranges (RFC 9110 §8.8.3.2): Last-Modified instead', () => assert.equal(objectValidator({ etag: 'W/"abc"', 'last-modified': LM }), `lm:${LM}`));
test('no strong ETag and no Last-Modified: no validator, not sliceable', () => assert.equal(objectValidator({ etag: 'W/"abc"' }), undefined));
test('slice keys differ per slice size and index and never equal a primary key', () => {
  const pk = 'GET http://a.example/v.mp4';
  assert.notEqual(sliceKey(pk, 4, 0), sliceKey(pk, 8, 0));
  assert.notEqual(sliceKey(pk, 4, 0), sliceKey(pk, 4, 1));
  assert.match(sliceKey(pk, 4, 0), / slice /);
});
