// Structured Field Dictionary validity (RFC 8941 §3.2, §4.2) for the targeted
// cache-control fields of RFC 9213: src/http/structured-field.ts. Pure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isStructuredDictionary } from '../../src/http/structured-field.js';

describe('isStructuredDictionary', () => {
  const valid = [
    '',
    'max-age=60',
    'max-age=60, stale-while-revalidate=30',
    'no-store',
    'no-cache, must-revalidate',
    '  max-age=60  ',
    'max-age=60,\tprivate',
    'private="set-cookie"',
    'no-cache="a, b"',
    'a="esc \\" \\\\ ok"',
    'a=?1, b=?0',
    'a=1.5, b=-3, c=123456789012345',
    'a=tok/en:x',
    'a=:aGVsbG8=:',
    'a=(1 2 "x" tok);p=1, b=()',
    'a;p;q=2, b=1;r="s"',
    '*x=1',
  ];
  for (const v of valid) test(`valid: ${JSON.stringify(v)}`, () => assert.equal(isStructuredDictionary(v), true));

  const invalid = [
    'Max-Age=60', // §3.2 keys are lower-case
    'max-age=60,', // §4.2.2 trailing comma
    ', max-age=60',
    'max-age=60,, no-store',
    'max-age=',
    'max-age=60 no-store', // members are comma-separated
    'private="unterminated',
    'a="bad \\n escape"',
    'a=1234567890123456', // §3.3.1 at most 15 digits
    'a=1.2345', // §3.3.2 at most 3 fractional digits
    'a=?2',
    'a=:abc',
    'a=(1 2',
    'a=(1,2)',
    'a;=1',
    '1a=2',
    'max-age=60;',
    'a=é',
  ];
  for (const v of invalid) test(`invalid: ${JSON.stringify(v)}`, () => assert.equal(isStructuredDictionary(v), false));
});
