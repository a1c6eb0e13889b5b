// Which Host values the admin API answers. A DNS-rebinding page (evil.example
// re-pointed at 127.0.0.1) reaches a loopback listener from the victim's browser
// with its own name in Host, so the admin API answers only names that cannot be
// rebound: localhost, IP literals (a page at an IP address is that address's own
// origin, not the attacker's) and the names the operator listed (admin.hosts).
// A request without Host (HTTP/1.0) is no browser's and is answered. Pure.

import { isIP } from 'node:net';

/** The host part of a Host field value, lower-case, without port, brackets or the DNS root dot. */
function hostPart(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    return close < 0 ? h : h.slice(1, close);
  }
  const colon = h.lastIndexOf(':');
  return (colon < 0 ? h : h.slice(0, colon)).replace(/\.$/, '');
}

export function isAllowedAdminHost(host: string | undefined, configured: readonly string[]): boolean {
  if (host === undefined) return true;
  const name = hostPart(host);
  return name === 'localhost' || isIP(name) !== 0 || configured.includes(name);
}
