// What ties the slices of one object version together (src/pipeline/slices.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { objectValidator, sliceKey } from '../../src/cache/slicing.js';

const LM = 'Tue, 01 Sep 2026 10:00:00 GMT';
const DATE = 'Tue, 01 Sep 2026 10:05:00 GMT';

test('a strong ETag is the validator', () => assert.equal(objectValidator({ etag: '"abc"', 'last-modified': LM }), '"abc"'));
test('a weak ETag cannot tie byte ranges (RFC 9110 §8.8.3.2): Last-Modified instead', () => assert.equal(objectValidator({ etag: 'W/"abc"', 'last-modified': LM, date: DATE }), `lm:${LM}`));
test('a Last-Modified within a second of the Date is weak (RFC 9110 §8.8.2.2): no validator; one at least a second before it is strong', () => {
  assert.equal(objectValidator({ 'last-modified': LM, date: LM }), undefined);
  assert.equal(objectValidator({ 'last-modified': LM }), undefined, 'no Date: weak');
  assert.equal(objectValidator({ 'last-modified': LM, date: 'Tue, 01 Sep 2026 10:00:01 GMT' }), `lm:${LM}`);
});
test('no strong ETag and no Last-Modified: no validator, not sliceable', () => assert.equal(objectValidator({ etag: 'W/"abc"' }), undefined));
test('slice keys differ per slice size and index and never equal a primary key', () => {
  const pk = 'GET http://a.example/v.mp4';
  assert.notEqual(sliceKey(pk, 4, 0), sliceKey(pk, 8, 0));
  assert.notEqual(sliceKey(pk, 4, 0), sliceKey(pk, 4, 1));
  assert.match(sliceKey(pk, 4, 0), / slice /);
});
