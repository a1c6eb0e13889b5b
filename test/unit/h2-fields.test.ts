// The fields an HTTP/2 answer is written with (src/server/h2-response.ts): raw
// pairs become one object for node:http2's compatibility layer (its fast path),
// connection-specific fields (RFC 9113 §8.2.2) are left out, repeated names kept;
// "connection: close" is told to the response (its stream is closed after the answer).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { h2Fields } from '../../src/server/h2-response.js';

test('raw pairs: connection-specific fields left out, TE only as "trailers", a repeated name becomes an array', () => {
  const raw = ['Content-Type', 'text/plain', 'connection', 'close', 'Keep-Alive', 'timeout=5', 'set-cookie', 'a=1', 'te', 'gzip', 'set-cookie', 'b=2', 'transfer-encoding', 'chunked', 'set-cookie', 'c=3', 'age', '3'];
  assert.deepEqual(h2Fields(raw), { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2', 'c=3'], age: '3' });
  assert.deepEqual(h2Fields(['te', 'Trailers', 'upgrade', 'h2c', 'http2-settings', 'x', 'proxy-connection', 'y']), { te: 'Trailers' });
});

test('a header object: the same fields left out, the others kept as given', () => {
  assert.deepEqual(h2Fields({ 'Content-Length': '5', Connection: 'close', vary: ['a', 'b'] }), { 'Content-Length': '5', vary: ['a', 'b'] });
});

test('"connection: close" is told (raw pairs or object, any case, in a list); other Connection values are not', () => {
  const told: string[] = [];
  const asked = { closeAsked: () => void told.push('close') };
  h2Fields(['content-length', '5', 'connection', 'close'], asked);
  h2Fields({ Connection: 'Keep-Alive, Close' }, asked);
  assert.deepEqual(told, ['close', 'close']);
  h2Fields(['connection', 'keep-alive', 'keep-alive', 'timeout=5'], asked);
  h2Fields({ connection: 'closed' }, asked);
  assert.deepEqual(told, ['close', 'close']);
});
