// RFC 8297 103 Early Hints passed on from the origin: which fields survive
// (src/deliver/early-hints.ts). Node writes an HTTP/1.1 103's fields unchecked, so
// the filter is all that stands between an origin's bad field and the client's head.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { earlyHintFields, isFieldName, isFieldValue } from '../../src/deliver/early-hints.js';
import type { HeaderMap } from '../../src/http/headers.js';

const LINK = '</a.css>; rel=preload; as=style';
const NONE: ReadonlySet<string> = new Set();

describe('earlyHintFields (RFC 8297; RFC 9110 §5.1, §5.5)', () => {
  const cases: { name: string; in: HeaderMap; hidden?: string[]; want: Record<string, string> | undefined }[] = [
    { name: 'a plain Link passes', in: { link: LINK }, want: { link: LINK } },
    { name: 'no Link: nothing to send', in: { 'x-a': '1' }, want: undefined },
    { name: 'an empty Link: nothing to send', in: { link: ' ' }, want: undefined },
    { name: 'a Link with CR/LF is dropped, and with it the 103', in: { link: '</a>\r\n;\r\nrel=preload' }, want: undefined },
    { name: 'a Link with NUL is dropped', in: { link: '</a>\u0000; rel=preload' }, want: undefined },
    { name: 'a value with a bare LF (repeated Set-Cookie joined) is dropped', in: { link: LINK, 'set-cookie': 'a=1\nb=2' }, want: { link: LINK } },
    { name: 'a value with CR is dropped', in: { link: LINK, 'x-a': 'v\rX-Injected: 1' }, want: { link: LINK } },
    { name: 'a value with NUL is dropped', in: { link: LINK, 'x-a': 'v\u0000' }, want: { link: LINK } },
    { name: 'a value with DEL or another control character is dropped', in: { link: LINK, 'x-a': 'v\u007f', 'x-b': 'v\u0001' }, want: { link: LINK } },
    { name: 'a value beyond Latin-1 is dropped', in: { link: LINK, 'x-a': 'v\u2028' }, want: { link: LINK } },
    { name: 'HTAB, SP and obs-text are valid field content', in: { link: LINK, 'x-a': 'a\tb c\u00e9' }, want: { link: LINK, 'x-a': 'a\tb c\u00e9' } },
    { name: 'a name that is not a token is dropped', in: { link: LINK, 'bad name': '1', 'x(y)': '2', ':status': '3', '': '4' }, want: { link: LINK } },
    { name: 'hop-by-hop fields and those Connection names are dropped', in: { link: LINK, connection: 'x-hop', 'x-hop': '1', 'keep-alive': 'timeout=5' }, want: { link: LINK } },
    { name: 'Content-Length is dropped', in: { link: LINK, 'content-length': '0' }, want: { link: LINK } },
    { name: 'hidden fields are dropped', in: { link: LINK, server: 'origin/1.2', 'x-powered-by': 'php' }, hidden: ['server', 'x-powered-by'], want: { link: LINK } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = earlyHintFields(c.in, c.hidden ? new Set(c.hidden) : NONE);
      assert.deepEqual(got === undefined ? undefined : { ...got }, c.want);
    });
  }

  test('a field named __proto__ changes no prototype: the hints stay plain data', () => {
    const got = earlyHintFields(JSON.parse(`{"link":"${LINK}","__proto__":{"polluted":"1"}}`) as HeaderMap, NONE)!;
    assert.equal(Object.getPrototypeOf(got), null);
    assert.equal((got as Record<string, unknown>)['polluted'], undefined);
    assert.equal(got['link'], LINK);
  });

  test('isFieldName / isFieldValue', () => {
    assert.equal(isFieldName('x-ok_1.2~'), true);
    assert.equal(isFieldName('x y'), false);
    assert.equal(isFieldValue(''), true);
    assert.equal(isFieldValue('a\nb'), false);
  });
});
