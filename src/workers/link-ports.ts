// Loopback ports for the workers' links (each worker's proxy and admin link), chosen
// once when the primary starts: a restarted worker binds the same ports again, so the
// other workers' peer lists stay valid.
//
// Why outside the kernel's ephemeral range when it is known: a port found free by a
// bind to port 0 and released is the kernel's to hand out again — to any process that
// binds port 0, and to every outgoing connection (each origin connection takes a local
// port from that range). A worker then found its port "in use" at start (seen in the
// test suite, where many servers bind port 0 at once), and a restarted worker could
// find it taken by one of the node's own origin connections. Ports below the range are
// never handed out by the kernel; only a program asking for that very port can hold one.

import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';

export interface LinkPorts {
  proxyPort: number;
  adminPort: number;
}

export interface LinkPortOptions {
  /** The kernel's ephemeral range; undefined when unknown (then ports come from port 0 binds). */
  ephemeral?: readonly [number, number] | undefined;
  random?: () => number;
}

/** Lowest port chosen: the registered ports below are where fixed services live. */
const LOWEST = 10_000;
/** A range below the ephemeral one narrower than this is not worth drawing from. */
const MIN_SPAN = 1_000;
const TRIES = 200;

/** Linux's ephemeral port range, or undefined where it cannot be read. */
export async function ephemeralRange(file = '/proc/sys/net/ipv4/ip_local_port_range'): Promise<[number, number] | undefined> {
  try {
    const [lo, hi] = (await readFile(file, 'utf8')).trim().split(/\s+/).map(Number);
    return Number.isInteger(lo) && Number.isInteger(hi) && lo! > 0 && hi! >= lo! ? [lo!, hi!] : undefined;
  } catch {
    return undefined;
  }
}

/** Binds 127.0.0.1:`port` and releases it: the port bound, or undefined when it was taken. */
async function tryBind(port: number): Promise<number | undefined> {
  const server = createServer();
  const bound = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (!bound) return undefined;
  const got = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return got;
}

async function onePort(opts: LinkPortOptions): Promise<number> {
  const eph = opts.ephemeral;
  if (eph && eph[0] - 1 - LOWEST >= MIN_SPAN) {
    const random = opts.random ?? Math.random;
    const span = eph[0] - LOWEST;
    for (let i = 0; i < TRIES; i++) {
      const got = await tryBind(LOWEST + Math.floor(random() * span));
      if (got !== undefined) return got;
    }
  }
  const got = await tryBind(0);
  if (got === undefined) throw new Error('no loopback port could be bound for the worker links');
  return got;
}

/** Distinct ports for `count` workers' links. */
export async function reserveLinkPorts(count: number, opts: LinkPortOptions): Promise<LinkPorts[]> {
  const links: LinkPorts[] = [];
  const seen = new Set<number>();
  while (links.length < count) {
    const proxyPort = await onePort(opts);
    const adminPort = await onePort(opts);
    if (proxyPort === adminPort || seen.has(proxyPort) || seen.has(adminPort)) continue;
    seen.add(proxyPort).add(adminPort);
    links.push({ proxyPort, adminPort });
  }
  return links;
}
