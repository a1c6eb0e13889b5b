// HTTP-date parsing (RFC 9110 §5.6.7): src/http/dates.ts. Pure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHttpDate } from '../../src/http/dates.js';

const T = Date.UTC(1994, 10, 6, 8, 49, 37);

describe('parseHttpDate', () => {
  const understood: { name: string; value: string }[] = [
    { name: '§5.6.7 IMF-fixdate', value: 'Sun, 06 Nov 1994 08:49:37 GMT' },
    { name: '§5.6.7 obsolete RFC 850', value: 'Sunday, 06-Nov-94 08:49:37 GMT' },
    { name: '§5.6.7 obsolete asctime', value: 'Sun Nov  6 08:49:37 1994' },
    { name: '§5.6.7 robust: upper-case names (IMF-fixdate)', value: 'SUN, 06 NOV 1994 08:49:37 GMT' },
    { name: '§5.6.7 robust: lower-case names (IMF-fixdate)', value: 'sun, 06 nov 1994 08:49:37 gmt' },
    { name: '§5.6.7 robust: mixed-case zone', value: 'Sun, 06 Nov 1994 08:49:37 Gmt' },
    { name: '§5.6.7 robust: wrong-case RFC 850', value: 'SUNDAY, 06-nov-94 08:49:37 gmt' },
    { name: '§5.6.7 robust: wrong-case asctime', value: 'sun NOV  6 08:49:37 1994' },
  ];
  for (const c of understood) test(c.name, () => assert.equal(parseHttpDate(c.value), T));

  const refused = ['2099', '1994-11-06T08:49:37Z', 'Sun, 06 Nov 1994 08:49:37 UTC', 'Sun, 06 Nov 1994 08:49:37 +0000', 'Sun, 31 Feb 1994 08:49:37 GMT', 'Xyz, 06 Nov 1994 08:49:37 GMT', 'Sun, 06 Nox 1994 08:49:37 GMT'];
  for (const value of refused) test(`not an HTTP-date: ${value}`, () => assert.ok(Number.isNaN(parseHttpDate(value))));
});

test('a value parsed again gives the same time; the one remembered never answers for another value', () => {
  const a = 'Sun, 06 Nov 1994 08:49:37 GMT';
  const b = 'Sun, 06 Nov 1994 08:49:38 GMT';
  assert.equal(parseHttpDate(a), T);
  assert.equal(parseHttpDate(a), T);
  assert.equal(parseHttpDate(b), T + 1000);
  assert.ok(Number.isNaN(parseHttpDate('Sun, 31 Feb 1994 08:49:37 GMT')));
  assert.equal(parseHttpDate(a), T);
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), T);
  assert.equal(parseHttpDate(b), T + 1000);
});
