// The fields an edge guard vouches for never come from the client: removed as sent,
// and in the spelling with "_" for "-" that CGI, WSGI and Rack servers read as the same variable.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withoutFields } from '../../src/pipeline/guarded.js';
import { withoutConnectionNamed } from '../../src/http/headers.js';

test('a guard field is removed in both spellings; other fields, and the map when nothing matches, are kept', () => {
  const fields = new Set(['x-auth-request-user']);
  const h = { host: 'a', 'x-auth-request-user': 'admin', x_auth_request_user: 'admin', 'x_other_field': '1' };
  assert.deepEqual(withoutFields(h, fields), { host: 'a', x_other_field: '1' });
  const clean = { host: 'a', x_other_field: '1' };
  assert.equal(withoutFields(clean, fields), clean);
});

test('fields named in Connection are dropped at receive; a Connection naming none leaves the map as it is', () => {
  const h = { host: 'a', connection: 'close, Accept-Language, origin', 'accept-language': 'fr', origin: 'https://x', accept: '*/*' };
  assert.deepEqual(withoutConnectionNamed(h), { host: 'a', connection: 'close, Accept-Language, origin', accept: '*/*' });
  const plain = { host: 'a', connection: 'keep-alive' };
  assert.equal(withoutConnectionNamed(plain), plain);
  const unnamed = { host: 'a', connection: 'close, x-absent' };
  assert.equal(withoutConnectionNamed(unnamed), unnamed);
});
