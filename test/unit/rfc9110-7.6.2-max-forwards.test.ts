// RFC 9110 §7.6.2 Max-Forwards on OPTIONS: src/http/max-forwards.ts. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxForwards, type MaxForwards } from '../../src/http/max-forwards.js';

const cases: { name: string; method: string; value: string | undefined; want: MaxForwards }[] = [
  { name: 'OPTIONS 0: answered here', method: 'OPTIONS', value: '0', want: { answerHere: true } },
  { name: 'OPTIONS 00: still zero', method: 'OPTIONS', value: '00', want: { answerHere: true } },
  { name: 'OPTIONS 1: forwarded as 0', method: 'OPTIONS', value: '1', want: { answerHere: false, forward: '0' } },
  { name: 'OPTIONS 10 with spaces: forwarded as 9', method: 'OPTIONS', value: ' 10 ', want: { answerHere: false, forward: '9' } },
  { name: 'OPTIONS without the field: unchanged', method: 'OPTIONS', value: undefined, want: { answerHere: false, forward: undefined } },
  { name: 'OPTIONS not a number: forwarded as it is', method: 'OPTIONS', value: 'x', want: { answerHere: false, forward: undefined } },
  { name: 'OPTIONS negative: forwarded as it is', method: 'OPTIONS', value: '-1', want: { answerHere: false, forward: undefined } },
  { name: 'GET 0: ignored (§7.6.2 MAY ignore)', method: 'GET', value: '0', want: { answerHere: false, forward: undefined } },
  { name: 'DELETE 3: ignored', method: 'DELETE', value: '3', want: { answerHere: false, forward: undefined } },
];

for (const c of cases) {
  test(`§7.6.2 ${c.name}`, () => {
    assert.deepEqual(maxForwards(c.method, c.value === undefined ? {} : { 'max-forwards': c.value }), c.want);
  });
}
