// Addresses of members (membership.ts): who a purge is owed to before a DNS-found
// address says its node id, every address a name resolves to, and the base URLs of
// a member's listeners.

import { lookup } from 'node:dns/promises';
import { isIPv6 } from 'node:net';

/**
 * Who a purge is owed to while a DNS-found address has not said its node id (a
 * peer down when this node started): the address, until probe() learns the id.
 */
export function addressKey(url: string): string {
  return `address ${url}`;
}

export function isAddressKey(key: string): boolean {
  return key.startsWith('address ');
}

export async function lookupAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

export function base(address: string, port: number): string {
  return `http://${isIPv6(address) ? `[${address}]` : address}:${port}`;
}

export function adminOf(url: string, adminPort: number): string {
  const u = new URL(url);
  u.port = String(adminPort);
  return u.origin;
}
