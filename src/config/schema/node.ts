// Settings of the node itself: its name, its listeners, its limits on client
// input, its logs. See ./index.ts for how to add a setting.

import { count, directory, duration, hostPort, httpToken, oneOf, secret, size } from '../kinds.js';
import { hostNames } from '../list-kinds.js';
import { setting } from '../setting.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

// A node id ends up in response fields (Via, Cache-Status), so it must be an
// HTTP token; exotic host names are squashed rather than rejected at start-up.
export function nodeIdFromHostname(hostname: string): string {
  const id = hostname.trim().replace(/[^A-Za-z0-9._-]/g, '-');
  return id === '' ? 'strata' : id;
}

export const nodeId = setting({
  kind: httpToken('a node id', 'edge-fra-1'),
  default: ({ hostname }) => nodeIdFromHostname(hostname),
  flag: 'node-id',
  defaultText: 'the host name',
  example: ['nodeId: edge-1'],
  help: 'Name of this node in Via, Cache-Status and logs.',
});

export const listen = setting({
  kind: hostPort(),
  default: { host: '0.0.0.0', port: 8080 },
  flag: 'listen',
  help: 'Address for proxied client traffic (HOST:PORT, [IPv6]:PORT, :PORT or PORT).',
});

export const logLevel = setting({
  live: true,
  kind: oneOf(LOG_LEVELS, 'a log level'),
  default: 'info',
  flag: 'log-level',
  help: 'Log verbosity; warn and above turn the access lines off.',
});

export const admin = {
  listen: setting({
    // Loopback only: the admin API must be exposed deliberately, never by default,
    // and never by a bare port (PORT or :PORT) either.
    kind: hostPort({ defaultHost: '127.0.0.1' }),
    default: { host: '127.0.0.1', port: 8081 },
    flag: 'admin-listen',
    help:
      'Admin API address (health, stats, purge); loopback so it is never exposed by accident ' +
      '(a bare PORT or :PORT also means 127.0.0.1; write 0.0.0.0:PORT to expose it).',
  }),
  hosts: setting({
    live: true,
    kind: hostNames(),
    default: [],
    flag: 'admin-hosts',
    defaultText: 'none',
    help:
      'Host names the admin API answers besides localhost and IP addresses; any other Host is refused (421) ' +
      'so a DNS-rebinding page cannot read it.',
  }),
  token: setting({
    live: true,
    kind: secret(),
    default: '',
    flag: 'admin-token',
    defaultText: 'none',
    help: 'Bearer token for admin actions; empty refuses them. Prefer STRATA_ADMIN_TOKEN: argv is visible in ps.',
  }),
};

export const limits = {
  maxUrlBytes: setting({ live: true, kind: size({ min: 1 }), default: 8_192, help: 'Longest accepted request target (414 URI Too Long beyond).' }),
  maxHeaderBytes: setting({ live: true, kind: size({ min: 1 }), default: 16_384, help: 'Largest accepted request header section (431 beyond).' }),
  requestHeadersTimeoutMs: setting({
    live: true,
    kind: duration({ min: 1 }),
    default: 30_000,
    help:
      "Time a client has to send its request headers (408 beyond); a new connection's first request counts from accept, " +
      'so a connection that sends nothing is closed; so is a kept-alive one that brings no request within limits.keepAliveTimeoutMs plus this of its last answer.',
  }),
  // nginx's keepalive_timeout (75 s there), Varnish's timeout_idle (5 s): Node's default kept.
  keepAliveTimeoutMs: setting({
    live: true,
    kind: duration({ min: 100, max: 3_600_000 }),
    default: 5_000,
    help: 'An HTTP/1.1 connection idle this long after its last answer is closed (HTTP/2: tls.http2IdleTimeoutMs).',
  }),
  maxConnectionsPerClient: setting({
    live: true,
    kind: count(),
    // Browsers open about 6 connections per host; 256 leaves room for many users behind one NAT.
    default: 256,
    help: 'Open connections one client address (an IPv6 client by its /64) may hold on the proxy listener; more are answered 429 and closed. 0: no cap.',
  }),
  // A timer: cli.ts and workers/primary.ts arm one for this plus a few seconds of backstop,
  // so the bound sits below MAX_TIMER_MS (2^31-1 ms, 596.5h) with room for it.
  shutdownGraceMs: setting({ live: true, kind: duration({ max: 596 * 3_600_000 }), default: 10_000, help: 'In-flight requests get this long to finish on shutdown. Also how long, at most, the upstream pools a reload replaced wait for the requests routed to them before it (then they close; later ones go to the new pool).' }),
  // Slow clients must not hold origin connections (nginx's proxy_request_buffering,
  // proxy_buffering and send_timeout): a request body is read whole before the
  // origin request, a passed-through response is buffered only this much per
  // client, and a client that stops reading is cut.
  maxRequestBodyBytes: setting({
    live: true,
    kind: size({ min: 0 }),
    default: 64 * 1024 * 1024,
    help: 'Largest request body accepted (413 Content Too Large beyond); bodies are read whole before the origin request is made.',
  }),
  requestBodyMemoryBytes: setting({
    live: true,
    kind: size({ min: 0 }),
    default: 1024 * 1024,
    help: 'Request bodies up to this size are buffered in memory; larger ones (up to maxRequestBodyBytes) in an unlinked temp file in requestBodyDir.',
  }),
  // Per request the limits above; for the whole node (each worker process) these
  // two, so many clients each sending a body at once (HTTP/2: up to
  // tls.http2MaxConcurrentStreams each) cannot pin more than this.
  requestBodyMemoryBudgetBytes: setting({
    live: true,
    kind: size({ min: 0 }),
    default: 64 * 1024 * 1024,
    help: 'Request body bytes held in memory by the whole node (per worker process) at once; a body that would go past it is spooled to requestBodyDir instead. 0: every body is spooled.',
  }),
  requestBodySpoolBudgetBytes: setting({
    live: true,
    kind: size({ min: 0 }),
    default: 1024 * 1024 * 1024,
    help: 'Request body bytes spooled to requestBodyDir by the whole node (per worker process) at once; a body that would go past it is refused 503 REQUEST_BODY_BUFFERS_FULL. 0: nothing is spooled.',
  }),
  requestBodyDir: setting({
    live: true,
    kind: directory({ allowEmpty: true }),
    default: '',
    defaultText: 'the OS temp dir',
    help: 'Where request bodies above requestBodyMemoryBytes are spooled (each file is unlinked as soon as it is created, so a crash leaves nothing). Use a disk, not tmpfs. Checked at start and at each reload: a directory that is missing, not a directory or not writable refuses the start (exit 2) or the reload.',
  }),
  requestBodyTimeoutMs: setting({
    live: true,
    kind: duration({ min: 1 }),
    default: 30_000,
    help: 'Longest pause between two pieces of a request body (408 beyond).',
  }),
  sendTimeoutMs: setting({
    live: true,
    kind: duration({ min: 1 }),
    default: 60_000,
    help: 'A client that takes no byte of its answer for this long while some are waiting is cut, releasing what it held (an origin connection, buffers).',
  }),
  passBufferBytes: setting({
    live: true,
    kind: size({ min: 16 * 1024 }),
    default: 256 * 1024,
    help: 'Bytes of a passed-through (not stored) origin response buffered ahead of a slow client; past it the origin read is paused.',
  }),
};

