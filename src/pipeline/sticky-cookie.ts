// A canary's new sticky id (routing/shifting.ts) travels as a Set-Cookie field of
// the one answer that lacked it, beside any Set-Cookie the origin sent and never
// in anything stored. Every answer is written with writeHead(status, raw pairs)
// (deliver/, answer.ts), so the field is appended to those pairs when the head is
// written — setHeader() would be dropped by Node for an origin's own Set-Cookie.

import type { ServerResponse } from 'node:http';

export function addSetCookie(res: ServerResponse, cookie: string): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    const last = rest.length - 1;
    const h = rest[last];
    if (Array.isArray(h)) rest[last] = [...(h as unknown[]), 'set-cookie', cookie];
    else if (h !== null && typeof h === 'object') {
      const own = (h as Record<string, unknown>)['set-cookie'];
      rest[last] = { ...h, 'set-cookie': own === undefined ? cookie : [...(Array.isArray(own) ? own : [own]), cookie] };
    } else rest.push(['set-cookie', cookie]);
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, [status, ...rest]);
  } as ServerResponse['writeHead'];
}
