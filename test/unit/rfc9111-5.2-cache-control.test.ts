// RFC 9111 §5.2 (Cache-Control) and §1.2.2 (delta-seconds): the directive parser
// in src/http/cache-control.ts. Pure; no I/O.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deltaSeconds, formatCacheControl, parseCacheControl } from '../../src/http/cache-control.js';

type Entries = [string, string | true][];

const parseCases: { name: string; value: string | undefined; want: Entries }[] = [
  { name: '§5.2 absent field yields no directives', value: undefined, want: [] },
  { name: '§5.2 empty field yields no directives', value: '', want: [] },
  { name: '§5.2 single token directive', value: 'no-store', want: [['no-store', true]] },
  { name: '§5.2 token argument', value: 'max-age=60', want: [['max-age', '60']] },
  {
    name: '§5.2 list of directives with optional white space',
    value: ' public ,max-age=60,\tmust-revalidate ',
    want: [['public', true], ['max-age', '60'], ['must-revalidate', true]],
  },
  {
    name: '§5.2 directive names are case-insensitive (PITFALLS 5)',
    value: 'Max-Age=60, NO-CACHE, Public',
    want: [['max-age', '60'], ['no-cache', true], ['public', true]],
  },
  {
    name: '§5.2 quoted-string argument may contain commas (PITFALLS 5: no-cache="a, b")',
    value: 'no-cache="set-cookie, x-foo", max-age=60',
    want: [['no-cache', 'set-cookie, x-foo'], ['max-age', '60']],
  },
  {
    name: '§5.2.2.7 qualified private with a quoted list',
    value: 'private="Set-Cookie, Authorization-Info"',
    want: [['private', 'Set-Cookie, Authorization-Info']],
  },
  {
    name: '§5.2 quoted-pair inside a quoted-string is unescaped',
    value: 'ext="a\\"b", max-age=5',
    want: [['ext', 'a"b'], ['max-age', '5']],
  },
  { name: '§5.2 quoted form of max-age is accepted', value: 'max-age="60"', want: [['max-age', '60']] },
  { name: '§5.2 empty list members are ignored', value: ',,max-age=1,,', want: [['max-age', '1']] },
  { name: '§5.2 argument value case is preserved', value: 'private="X-Token"', want: [['private', 'X-Token']] },
  { name: '§4.2.1 a repeated directive with the same value is kept', value: 'max-age=60, max-age=60', want: [['max-age', '60']] },
  {
    name: '§4.2.1 a repeated max-age with conflicting values is invalidated (value dropped)',
    value: 'max-age=60, max-age=120',
    want: [['max-age', '']],
  },
  {
    name: '§4.2.1 conflicting s-maxage values (joined duplicate fields) are invalidated',
    value: 's-maxage=10, public, s-maxage=20',
    want: [['s-maxage', ''], ['public', true]],
  },
  { name: '§5.2 a repeated boolean directive stays boolean', value: 'no-cache, no-cache', want: [['no-cache', true]] },
  {
    name: '§5.2.2.7 repeated qualified private directives name every field listed (two Cache-Control lines)',
    value: 'private="x-user", max-age=60, private="x-session"',
    want: [['private', 'x-user, x-session'], ['max-age', '60']],
  },
  { name: '§5.2.2.4 repeated qualified no-cache directives name every field listed', value: 'no-cache="a", no-cache="b"', want: [['no-cache', 'a, b']] },
  // cache-tests.fyi freshness-max-age-space-before-equals / -after-equals: the grammar has no white space around "=".
  { name: '§5.2 white space before "=" leaves the directive without a valid argument', value: 'max-age =100', want: [['max-age', '']] },
  { name: '§5.2 white space after "=" leaves the directive without a valid argument', value: 'max-age= 100, public', want: [['max-age', ''], ['public', true]] },
  { name: '§5.2 a quoted argument after white space is not valid either', value: 's-maxage=\t"100"', want: [['s-maxage', '']] },
  { name: '§5.2.2.7 private with white space around "=" counts as unqualified (the stricter form)', value: 'private = "x", max-age=60', want: [['private', true], ['max-age', '60']] },
  { name: '§5.2.2.4 no-cache with white space around "=" counts as unqualified', value: 'no-cache= "a"', want: [['no-cache', true]] },
  { name: '§5.2 white space around a directive without "=" is only list white space', value: ' no-store , max-age=5 ', want: [['no-store', true], ['max-age', '5']] },
  { name: '§5.2.2.7 private with an unterminated quoted-string counts as unqualified', value: 'max-age=60, private="x-user', want: [['max-age', '60'], ['private', true]] },
  { name: '§5.2 an unterminated quoted max-age has no valid argument', value: 'max-age="60', want: [['max-age', '']] },
  { name: '§5.2 text after a closing quote makes the argument invalid', value: 'max-age="60"0, public', want: [['max-age', ''], ['public', true]] },
  { name: '§5.2 white space after a closing quote is list white space', value: 'max-age="60" , public', want: [['max-age', '60'], ['public', true]] },
  { name: '§5.2.2.7 private with an unquoted argument that is not a token counts as unqualified', value: 'private=x-user x-id, max-age=60', want: [['private', true], ['max-age', '60']] },
  { name: '§5.2 an unquoted argument that is not a token is invalid', value: 'max-age=60 70', want: [['max-age', '']] },
];

describe('parseCacheControl', () => {
  for (const c of parseCases) {
    test(c.name, () => {
      assert.deepEqual([...parseCacheControl(c.value)], c.want);
    });
  }
});

const deltaCases: { name: string; value: string; directive: string; want: number | undefined }[] = [
  { name: '§1.2.2 delta-seconds integer', value: 'max-age=60', directive: 'max-age', want: 60 },
  { name: '§1.2.2 zero', value: 'max-age=0', directive: 'max-age', want: 0 },
  { name: '§1.2.2 leading zeros are digits', value: 'max-age=007', directive: 'max-age', want: 7 },
  { name: '§1.2.2 absent directive', value: 'public', directive: 'max-age', want: undefined },
  { name: '§1.2.2 directive without argument', value: 'max-age', directive: 'max-age', want: undefined },
  { name: '§1.2.2 negative value is invalid', value: 'max-age=-1', directive: 'max-age', want: undefined },
  { name: '§1.2.2 fractional value is invalid', value: 'max-age=1.5', directive: 'max-age', want: undefined },
  { name: '§1.2.2 trailing garbage is invalid', value: 'max-age=10abc', directive: 'max-age', want: undefined },
  { name: '§1.2.2 empty value is invalid', value: 'max-age=', directive: 'max-age', want: undefined },
  { name: '§4.2.1 conflicting duplicates have no value', value: 'max-age=1, max-age=2', directive: 'max-age', want: undefined },
  { name: '§1.2.2 quoted delta-seconds accepted', value: 'max-age="30"', directive: 'max-age', want: 30 },
  { name: '§1.2.2 2^31 itself is kept', value: 'max-age=2147483648', directive: 'max-age', want: 2147483648 },
  { name: '§1.2.2 values above 2^31 are treated as 2^31', value: 'max-age=99999999999999999999', directive: 'max-age', want: 2147483648 },
  { name: '§5.2.1.2 max-stale with a value', value: 'max-stale=30', directive: 'max-stale', want: 30 },
  { name: '§5.2 "max-age =100" has no delta-seconds', value: 'max-age =100', directive: 'max-age', want: undefined },
  { name: '§5.2 "max-age= 100" has no delta-seconds', value: 'max-age= 100', directive: 'max-age', want: undefined },
];

describe('deltaSeconds', () => {
  for (const c of deltaCases) {
    test(c.name, () => {
      assert.equal(deltaSeconds(parseCacheControl(c.value), c.directive), c.want);
    });
  }
});

describe('formatCacheControl', () => {
  const cases: { name: string; value: string; want: string }[] = [
    { name: '§5.2 tokens serialise unquoted', value: 'public, max-age=60', want: 'public, max-age=60' },
    { name: '§5.2 arguments with commas are re-quoted', value: 'no-cache="a, b"', want: 'no-cache="a, b"' },
    { name: '§5.2 quotes and backslashes are escaped', value: 'ext="a\\"b"', want: 'ext="a\\"b"' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(formatCacheControl(parseCacheControl(c.value)), c.want);
      // round trip
      assert.deepEqual([...parseCacheControl(formatCacheControl(parseCacheControl(c.value)))], [...parseCacheControl(c.value)]);
    });
  }
});
