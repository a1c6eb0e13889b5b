// RFC 9110 §14 (range requests) and §13.1.5 (If-Range): src/http/range.ts. Pure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { firstRequestedByte, ifRangeAllows, MAX_RANGES, parseContentRange, parseRanges, unsatisfiedRangeLength, type RangeResult } from '../../src/http/range.js';

const NONE: RangeResult = { kind: 'none' };
const UNSAT: RangeResult = { kind: 'unsatisfiable' };
const sat = (start: number, end: number): RangeResult => ({ kind: 'satisfiable', ranges: [{ start, end }] });
const multi = (...r: [number, number][]): RangeResult => ({ kind: 'satisfiable', ranges: r.map(([start, end]) => ({ start, end })) });
const many = (n: number, f: (i: number) => string) => 'bytes=' + Array.from({ length: n }, (_, i) => f(i)).join(',');

describe('parseRanges', () => {
  const cases: { name: string; header: string | undefined; size: number; want: RangeResult }[] = [
    { name: '§14.2 no Range field', header: undefined, size: 100, want: NONE },
    { name: '§14.1.2 first-pos and last-pos', header: 'bytes=0-9', size: 100, want: sat(0, 9) },
    { name: '§14.1.2 a single byte', header: 'bytes=5-5', size: 100, want: sat(5, 5) },
    { name: '§14.1.2 open-ended range', header: 'bytes=90-', size: 100, want: sat(90, 99) },
    { name: '§14.1.2 last-pos beyond the end is clamped', header: 'bytes=90-1000', size: 100, want: sat(90, 99) },
    { name: '§14.1.2 last byte exactly', header: 'bytes=99-99', size: 100, want: sat(99, 99) },
    { name: '§14.1.2 suffix range: the last N bytes', header: 'bytes=-10', size: 100, want: sat(90, 99) },
    { name: '§14.1.2 suffix longer than the representation: the whole of it', header: 'bytes=-500', size: 100, want: sat(0, 99) },
    { name: '§14.1.2 bytes=0- is the whole representation', header: 'bytes=0-', size: 100, want: sat(0, 99) },
    { name: '§14.1 range unit is case-insensitive', header: 'Bytes=0-1', size: 100, want: sat(0, 1) },
    { name: '§14.1.2 first-pos at the end: unsatisfiable (416)', header: 'bytes=100-', size: 100, want: UNSAT },
    { name: '§14.1.2 first-pos beyond the end: unsatisfiable (416)', header: 'bytes=200-300', size: 100, want: UNSAT },
    { name: '§14.1.2 suffix-length 0: unsatisfiable', header: 'bytes=-0', size: 100, want: UNSAT },
    { name: '§14.1.2 any range of an empty representation: unsatisfiable', header: 'bytes=0-', size: 0, want: UNSAT },
    { name: '§14.1.2 suffix range of an empty representation: satisfiable, yet no Content-Range names nothing: ignored (200)', header: 'bytes=-5', size: 0, want: NONE },
    { name: '§14.1.2 suffix-length 0 of an empty representation: unsatisfiable', header: 'bytes=-0', size: 0, want: UNSAT },
    { name: '§14.1.1 last-pos < first-pos is invalid: ignored', header: 'bytes=9-5', size: 100, want: NONE },
    { name: '§14.2 an unknown range unit is ignored', header: 'items=0-5', size: 100, want: NONE },
    { name: '§14.2 syntactically invalid: ignored', header: 'bytes=abc', size: 100, want: NONE },
    { name: '§14.1.2 "bytes=-" is not a range: ignored', header: 'bytes=-', size: 100, want: NONE },
    { name: '§14.1.2 negative positions are not valid syntax: ignored', header: 'bytes=-5-10', size: 100, want: NONE },
    { name: '§14.1.1 "bytes" without "=": ignored', header: 'bytes 0-5', size: 100, want: NONE },
    { name: '§14.1.1 an empty range set: ignored', header: 'bytes=', size: 100, want: NONE },
    { name: '§14.1.1 only empty list elements: ignored', header: 'bytes= , ,', size: 100, want: NONE },
    { name: '§14.1.1 a fraction is not a position: ignored', header: 'bytes=1.5-3', size: 100, want: NONE },
    { name: '§14.1.1 a sign is not a position: ignored', header: 'bytes=+1-3', size: 100, want: NONE },
    { name: '§14.1.1 a huge first-pos is valid syntax and beyond the end: 416', header: 'bytes=99999999999999999999999-', size: 100, want: UNSAT },
    { name: '§14.1.1 a huge last-pos is clamped', header: 'bytes=10-99999999999999999999999', size: 100, want: sat(10, 99) },
    { name: '§14.1.1 a huge suffix is the whole representation', header: 'bytes=-99999999999999999999999', size: 100, want: sat(0, 99) },
    // Several ranges (§14.1.2, §14.6)
    { name: '§14.1.2 two disjoint ranges', header: 'bytes=0-1,5-6', size: 100, want: multi([0, 1], [5, 6]) },
    { name: '§5.6.1 white space and empty elements around list members', header: 'bytes= 0-1 ,, 5-6 ,', size: 100, want: multi([0, 1], [5, 6]) },
    { name: '§14.2 ranges are sent in ascending order', header: 'bytes=50-59,0-9', size: 100, want: multi([0, 9], [50, 59]) },
    { name: '§14.2 overlapping ranges are coalesced', header: 'bytes=0-10,5-20', size: 100, want: sat(0, 20) },
    { name: '§14.2 adjacent ranges are coalesced', header: 'bytes=0-9,10-19,30-39', size: 100, want: multi([0, 19], [30, 39]) },
    { name: '§14.2 a contained range is coalesced', header: 'bytes=0-50,10-20', size: 100, want: sat(0, 50) },
    { name: '§14.2 a suffix range among others', header: 'bytes=0-9,-10', size: 100, want: multi([0, 9], [90, 99]) },
    { name: '§14.1.2 unsatisfiable members are dropped', header: 'bytes=0-9,200-300', size: 100, want: sat(0, 9) },
    { name: '§14.1.2 no satisfiable member: 416', header: 'bytes=200-300,400-', size: 100, want: UNSAT },
    { name: '§14.1.1 one invalid member invalidates the field: ignored', header: 'bytes=0-9,x-y', size: 100, want: NONE },
    { name: '§14.1.1 one reversed member invalidates the field: ignored', header: 'bytes=0-9,20-10', size: 100, want: NONE },
    // Abuse (§14.2 "MAY ignore"): the whole representation, once.
    { name: `§14.2 ${MAX_RANGES} ranges are served`, header: many(MAX_RANGES, (i) => `${i * 2}-${i * 2}`), size: 100, want: multi(...Array.from({ length: MAX_RANGES }, (_, i): [number, number] => [i * 2, i * 2])) },
    { name: `§14.2 more than ${MAX_RANGES} ranges: the whole representation`, header: many(MAX_RANGES + 1, (i) => `${i * 2}-${i * 2}`), size: 100, want: NONE },
    { name: '§14.2 thousands of ranges: the whole representation', header: many(5000, (i) => `${i}-${i}`), size: 10000, want: NONE },
    { name: '§14.2 overlapping ranges adding up to more than the representation: the whole of it', header: 'bytes=0-,0-', size: 100, want: NONE },
    { name: '§14.2 repeated suffixes adding up to more than the representation: the whole of it', header: 'bytes=-60,-60', size: 100, want: NONE },
    { name: '§14.2 overlapping ranges within the representation are coalesced', header: 'bytes=0-30,20-40', size: 100, want: sat(0, 40) },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(parseRanges(c.header, c.size), c.want));
  }
});

describe('ifRangeAllows (RFC 9110 §13.1.5; strong dates §8.8.2.2)', () => {
  const LM = 'Mon, 15 Jan 2024 12:00:00 GMT';
  /** The stored response's Date, an hour after Last-Modified: the date is strong. */
  const DATE = 'Mon, 15 Jan 2024 13:00:00 GMT';
  const cases: { name: string; ifRange: string | undefined; etag: string | undefined; lm: string | undefined; date?: string | undefined; want: boolean }[] = [
    { name: '§13.1.5 no If-Range: the range applies', ifRange: undefined, etag: '"a"', lm: LM, want: true },
    { name: '§13.1.5 strong ETag match: the range applies', ifRange: '"a"', etag: '"a"', lm: LM, want: true },
    { name: '§13.1.5 strong ETag match needs no Date', ifRange: '"a"', etag: '"a"', lm: LM, date: undefined, want: true },
    { name: '§13.1.5 ETag mismatch: full response', ifRange: '"b"', etag: '"a"', lm: LM, want: false },
    { name: '§13.1.5 weak validator in If-Range never matches (strong comparison)', ifRange: 'W/"a"', etag: 'W/"a"', lm: LM, want: false },
    { name: '§13.1.5 strong If-Range vs weak stored ETag: full response', ifRange: '"a"', etag: 'W/"a"', lm: LM, want: false },
    { name: '§13.1.5 entity-tag but no stored ETag: full response', ifRange: '"a"', etag: undefined, lm: LM, want: false },
    { name: '§13.1.5 date equal to a strong Last-Modified: the range applies', ifRange: LM, etag: '"a"', lm: LM, want: true },
    { name: '§8.8.2.2 Last-Modified exactly 1 s before Date is strong', ifRange: LM, etag: '"a"', lm: LM, date: 'Mon, 15 Jan 2024 12:00:01 GMT', want: true },
    { name: '§8.8.2.2 Last-Modified equal to Date is weak: full response', ifRange: LM, etag: '"a"', lm: LM, date: LM, want: false },
    { name: '§8.8.2.2 Last-Modified after Date is weak: full response', ifRange: LM, etag: '"a"', lm: LM, date: 'Mon, 15 Jan 2024 11:59:59 GMT', want: false },
    { name: '§8.8.2.2 no stored Date: the date cannot be shown strong, full response', ifRange: LM, etag: '"a"', lm: LM, date: undefined, want: false },
    { name: '§8.8.2.2 an unparsable stored Date: full response', ifRange: LM, etag: '"a"', lm: LM, date: 'soon', want: false },
    { name: '§13.1.5 date one second later than Last-Modified: full response (exact match only)', ifRange: 'Mon, 15 Jan 2024 12:00:01 GMT', etag: '"a"', lm: LM, want: false },
    { name: '§13.1.5 date one second earlier than Last-Modified: full response (exact match only)', ifRange: 'Mon, 15 Jan 2024 11:59:59 GMT', etag: '"a"', lm: LM, want: false },
    { name: '§13.1.5 date but no stored Last-Modified: full response', ifRange: LM, etag: '"a"', lm: undefined, want: false },
    { name: '§13.1.5 invalid date: full response', ifRange: 'yesterday', etag: '"a"', lm: 'yesterday', want: false },
    {
      // RFC 9110 §13.1.5: the condition is true only "If the HTTP-date validator provided exactly
      // matches the Last-Modified field value"; "2024" is not an HTTP-date (§5.6.7).
      name: '§13.1.5 a non-HTTP-date ("2024") never matches Last-Modified',
      ifRange: '2024',
      etag: '"a"',
      lm: 'Mon, 01 Jan 2024 00:00:00 GMT',
      want: false,
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(ifRangeAllows(c.ifRange, c.etag, c.lm, 'date' in c ? c.date : DATE), c.want));
  }
});

describe('firstRequestedByte (where an object of unknown length is read from)', () => {
  const cases: [string | undefined, number][] = [
    [undefined, 0],
    ['bytes=500-999', 500],
    ['bytes=900-,100-199', 100],
    ['bytes=-500', 0],
    ['bytes=100-199,-5', 0],
    ['bytes=abc', 0],
    ['items=5-9', 0],
  ];
  for (const [h, want] of cases) test(`${h} → ${want}`, () => assert.equal(firstRequestedByte(h), want));
});

describe('parseContentRange (RFC 9110 §14.4)', () => {
  test('bytes first-last/complete', () => assert.deepEqual(parseContentRange('bytes 0-99/1000'), { start: 0, end: 99, total: 1000 }));
  test('case and white space', () => assert.deepEqual(parseContentRange(' Bytes 5-5/6 '), { start: 5, end: 5, total: 6 }));
  for (const bad of [undefined, 'bytes */1000', 'bytes 0-99/*', 'bytes 10-5/100', 'bytes 0-100/100', 'items 0-1/2', 'bytes 0-1']) {
    test(`invalid: ${bad}`, () => assert.equal(parseContentRange(bad), undefined));
  }
});

describe('unsatisfiedRangeLength (RFC 9110 §14.4, a 416)', () => {
  test('bytes */length', () => assert.equal(unsatisfiedRangeLength('bytes */1000'), 1000));
  test('an empty representation', () => assert.equal(unsatisfiedRangeLength(' Bytes */0 '), 0));
  for (const bad of [undefined, '', 'bytes 0-99/1000', 'bytes */*', 'bytes */-1', 'items */2', 'bytes */99999999999999999999']) {
    test(`invalid: ${bad}`, () => assert.equal(unsatisfiedRangeLength(bad), undefined));
  }
});
