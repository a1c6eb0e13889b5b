// RFC 9111 §4.1 (calculating cache keys with Vary): src/cache/vary.ts. Pure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ABSENT, normaliseVaryValue, selectingValues, variantKey, varyMatches, varyNames } from '../../src/cache/vary.js';
import type { HeaderMap } from '../../src/http/headers.js';

describe('varyNames', () => {
  const cases: { name: string; vary: string | undefined; want: string[] }[] = [
    { name: '§4.1 no Vary: no varied names', vary: undefined, want: [] },
    { name: '§4.1 empty Vary: no varied names', vary: '', want: [] },
    { name: '§4.1 field names are case-insensitive (lower-cased)', vary: 'Accept-Encoding', want: ['accept-encoding'] },
    { name: '§4.1 names are de-duplicated and sorted', vary: 'User-Agent, accept-encoding,ACCEPT-ENCODING , Accept', want: ['accept', 'accept-encoding', 'user-agent'] },
    { name: '§4.1 empty list members ignored', vary: ', ,origin,,', want: ['origin'] },
    { name: '§4.1 Vary: * varies on everything', vary: '*', want: ['*'] },
    { name: '§4.1 * anywhere in the list wins', vary: 'accept, *', want: ['*'] },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(varyNames(c.vary), c.want));
  }
});

describe('normaliseVaryValue', () => {
  const cases: { name: string; field: string; value: string | undefined; want: string }[] = [
    { name: '§4.1 absent field normalises to the ABSENT marker, not to an empty value', field: 'accept-encoding', value: undefined, want: ABSENT },
    { name: '§4.1 a present empty field normalises to the empty value', field: 'accept-encoding', value: '', want: '' },
    { name: '§4.1 Accept-Encoding members keep their order (ties of equal weight are broken by it)', field: 'accept-encoding', value: 'gzip, br', want: 'gzip,br' },
    { name: '§4.1 Accept-Language members keep their order: "fr, en-US" is not "en-US, fr"', field: 'accept-language', value: 'fr, en-US', want: 'fr,en-us' },
    { name: '§4.1 Accept-Encoding white space removed', field: 'accept-encoding', value: ' br ,  gzip;q=0.5 ', want: 'br,gzip;q=0.5' },
    { name: '§4.1 Accept-Language tags are case-insensitive', field: 'accept-language', value: 'en-US, fr', want: 'en-us,fr' },
    { name: '§4.1 Accept media types are case-insensitive', field: 'accept', value: 'Text/HTML, application/json;q=0.9', want: 'text/html,application/json;q=0.9' },
    { name: '§4.1 Accept-Charset normalised', field: 'accept-charset', value: 'UTF-8, iso-8859-1', want: 'utf-8,iso-8859-1' },
    { name: '§4.1 other fields keep case and order; white space around commas removed', field: 'x-custom', value: '  B ,  a  ', want: 'B,a' },
    { name: '§4.1 other fields: runs of white space collapse', field: 'user-agent', value: 'Mozilla/5.0  (X11;\tLinux)', want: 'Mozilla/5.0 (X11; Linux)' },
    { name: '§4.1 other fields: case is significant', field: 'x-variant', value: 'A=1', want: 'A=1' },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(normaliseVaryValue(c.field, c.value), c.want));
  }
});

describe('selectingValues', () => {
  test('§4.1 only the varied fields are kept (PITFALLS 10: no Cookie/Authorization persisted)', () => {
    const got = selectingValues(['accept-encoding'], { 'accept-encoding': 'gzip', cookie: 'sid=1', authorization: 'Bearer t' });
    assert.deepEqual(got, { 'accept-encoding': 'gzip' });
  });
  test('§4.1 an absent varied field is recorded as absent', () => {
    assert.deepEqual(selectingValues(['accept-language'], {}), { 'accept-language': ABSENT });
  });
});

describe('varyMatches', () => {
  const stored = (names: string[], req: HeaderMap) => selectingValues(names, req);
  const cases: { name: string; names: string[]; storedReq: HeaderMap; req: HeaderMap; want: boolean }[] = [
    { name: '§4.1 no varied names: always matches', names: [], storedReq: { 'accept-encoding': 'gzip' }, req: {}, want: true },
    { name: '§4.1 same value matches', names: ['accept-encoding'], storedReq: { 'accept-encoding': 'gzip' }, req: { 'accept-encoding': 'gzip' }, want: true },
    { name: '§4.1 different value does not match', names: ['accept-encoding'], storedReq: { 'accept-encoding': 'gzip' }, req: { 'accept-encoding': 'br' }, want: false },
    { name: '§4.1 equivalent (re-spaced, re-cased) values match (PITFALLS 6)', names: ['accept-encoding'], storedReq: { 'accept-encoding': 'gzip, br' }, req: { 'accept-encoding': 'GZIP,br' }, want: true },
    { name: '§4.1 reordered members of equal weight do not match (an origin may break the tie by order)', names: ['accept-language'], storedReq: { 'accept-language': 'en-US, fr' }, req: { 'accept-language': 'fr, en-US' }, want: false },
    { name: '§4.1 absent in both requests matches', names: ['accept-language'], storedReq: {}, req: {}, want: true },
    { name: '§4.1 absent in the new request, empty in the stored one: no match', names: ['accept-language'], storedReq: { 'accept-language': '' }, req: {}, want: false },
    { name: '§4.1 absent in the new request, present in the stored one: no match', names: ['accept-language'], storedReq: { 'accept-language': 'en' }, req: {}, want: false },
    { name: '§4.1 present in the new request, absent in the stored one: no match', names: ['accept-language'], storedReq: {}, req: { 'accept-language': 'en' }, want: false },
    { name: '§4.1 every varied field must match', names: ['accept', 'accept-encoding'], storedReq: { accept: 'a/b', 'accept-encoding': 'gzip' }, req: { accept: 'a/b', 'accept-encoding': 'br' }, want: false },
    { name: '§4.1 Vary: * never matches', names: ['*'], storedReq: {}, req: {}, want: false },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(varyMatches(c.names, stored(c.names, c.storedReq), c.req), c.want));
  }
});

describe('variantKey', () => {
  test('§4.1 no varied names: the variant key is the primary key', () => {
    assert.equal(variantKey('GET http://e/x', [], {}), 'GET http://e/x');
  });
  test('§4.1 equivalent requests give one variant key', () => {
    const names = varyNames('Accept-Encoding, Accept-Language');
    const a = variantKey('P', names, selectingValues(names, { 'accept-encoding': 'gzip, br', 'accept-language': 'en-US' }));
    const b = variantKey('P', names, selectingValues(names, { 'accept-encoding': 'gzip,br', 'accept-language': 'en-us' }));
    assert.equal(a, b);
  });
  test('§4.1 different selecting values give different variant keys', () => {
    const names = ['accept-encoding'];
    assert.notEqual(variantKey('P', names, { 'accept-encoding': 'gzip' }), variantKey('P', names, { 'accept-encoding': 'br' }));
  });
  test('§4.1 the variant key starts with the primary key and differs from it', () => {
    const k = variantKey('P', ['accept'], { accept: 'x/y' });
    assert.ok(k.startsWith('P\n'));
    assert.notEqual(k, 'P');
  });
});

describe('credentials in varied fields', () => {
  test('Cookie and Authorization values are kept only as digests, and still select correctly', () => {
    const names = varyNames('Cookie, Authorization');
    const stored = selectingValues(names, { cookie: 'sid=secret-1', authorization: 'Bearer token-1' });
    const key = variantKey('GET http://h/p', names, stored);
    assert.doesNotMatch(key + JSON.stringify(stored), /secret-1|token-1/);
    assert.equal(varyMatches(names, stored, { cookie: 'sid=secret-1', authorization: 'Bearer token-1' }), true);
    assert.equal(varyMatches(names, stored, { cookie: 'sid=secret-2', authorization: 'Bearer token-1' }), false);
  });
});
