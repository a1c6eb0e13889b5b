// Settings of the way to the origin: the upstream pool, timeouts, balancing,
// health and retries. See ./index.ts for how to add a setting.

import { CLOCK_ONLY_MS, count, duration, onOff, oneOf, requestPath } from '../kinds.js';
import { fieldNames, statusRanges } from '../list-kinds.js';
import { upstreams as upstreamList } from '../upstream-kinds.js';
import { setting } from '../setting.js';

export const BALANCER_NAMES = ['round-robin', 'least-connections', 'p2c-ewma', 'consistent-hash'] as const;

/**
 * URL, host, scheme, port and method overrides honoured by IIS / Symfony / Zend
 * (X-Original-URL, X-Rewrite-URL), Rails and Rack (X-Forwarded-Scheme, -Port,
 * -Server, -Ssl, X-Host, Front-End-Https), Spring and Symfony (X-Forwarded-Prefix),
 * Tornado (X-Scheme, read before X-Forwarded-Proto), gunicorn (X-Forwarded-Protocol;
 * one contradicting X-Forwarded-Proto is its 400), WSGI middlewares (X-Url-Scheme),
 * and many API frameworks (method overrides). They are not part of the cache key, so
 * one client's value would change the answer stored for everyone; and client-address
 * fields an origin may trust (X-Real-IP, True-Client-IP, ...) would let a client name
 * its own address (Strata appends the real one to X-Forwarded-For). Removed from
 * requests to the origin (../../pipeline/forward-headers.ts).
 */
export const DROPPED_REQUEST_FIELDS = [
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-forwarded-uri',
  'x-forwarded-prefix',
  'x-host',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-forwarded-scheme',
  'x-scheme',
  'x-forwarded-protocol',
  'x-url-scheme',
  'x-forwarded-port',
  'x-forwarded-server',
  'x-forwarded-ssl',
  'front-end-https',
  'x-real-ip',
  'true-client-ip',
  'x-client-ip',
  'x-cluster-client-ip',
] as const;

export const origin = {
  upstreams: setting({
    live: true,
    kind: upstreamList(),
    // No meaningful default: load.ts refuses to finish until some source names one.
    default: [],
    flag: 'origin',
    aliases: ['url'],
    defaultText: 'none, required',
    example: [
      'url: http://127.0.0.1:9000',
      '... or upstreams with a weight (share of traffic) and their own pool size:',
      'upstreams:',
      '  - url: http://10.0.0.1:9000',
      '    weight: 2',
      '    maxConnections: 256',
      '  - http://10.0.0.2:9000',
    ],
    help:
      'The upstreams serving the site: http: or https: URLs, path prefix allowed. ' +
      'Repeat --origin (or comma-separate STRATA_ORIGIN) for several; in YAML origin.url is one URL or a list.',
  }),
  connectTimeoutMs: setting({ live: true, kind: duration({ min: 1 }), default: 5_000, flag: 'connect-timeout', help: 'Time to open a TCP/TLS connection to the origin.' }),
  headersTimeoutMs: setting({ live: true, kind: duration({ min: 1 }), default: 30_000, flag: 'headers-timeout', help: 'Time for the origin to send response headers (504 beyond), counted from the request leaving for the upstream: a wait for a free connection (maxConnections) is part of it.' }),
  bodyTimeoutMs: setting({ live: true, kind: duration({ min: 1 }), default: 30_000, flag: 'body-timeout', help: 'Longest pause between two chunks of an origin response body.' }),
  maxConnections: setting({
    live: true,
    kind: count({ min: 1 }),
    default: 128,
    flag: 'origin-max-connections',
    help: 'Connection pool size towards each upstream (unless the upstream sets its own).',
  }),
  droppedRequestFields: setting({
    live: true,
    kind: fieldNames('X-Original-URL, X-Host'),
    default: [...DROPPED_REQUEST_FIELDS],
    help:
      "Client request fields never sent to the origin: by default the URL, host, scheme, port and method overrides " +
      'some origin frameworks obey (not part of the cache key, so one client could change the answer stored for everyone). ' +
      'Replaces the list; [] forwards them all.',
  }),
  forwardUnderscoreFields: setting({
    live: true,
    kind: onOff(),
    // Off, as nginx (underscores_in_headers off): CGI, WSGI and Rack origins read
    // X_Forwarded_Host as X-Forwarded-Host, so a "_" name can stand in for any field
    // Strata removes, sets, keys by or varies on (CACHING.md, What reaches the origin).
    default: false,
    help:
      'Send request fields whose name contains "_" to the origin. Off (as nginx): they are dropped, since CGI, WSGI and Rack origins read ' +
      'X_Forwarded_Host as X-Forwarded-Host. On: forwarded, except the "_" spellings of fields Strata removes or sets.',
  }),
  balancer: setting({
    live: true,
    kind: oneOf(BALANCER_NAMES, 'a balancer'),
    // Misses are what reach the origin: their latency is what clients feel, and
    // p2c-ewma steers them away from a slow or overloaded upstream (CACHING.md).
    default: 'p2c-ewma',
    flag: 'balancer',
    help:
      'How an upstream is chosen: p2c-ewma (the faster of two random picks), ' +
      'round-robin, least-connections (both weighted) or consistent-hash (by cache key).',
  }),
  healthCheck: {
    path: setting({
      live: true,
      kind: requestPath(),
      // Off until a path is named: only the operator knows a cheap, harmless URL.
      default: '',
      flag: 'health-check-path',
      defaultText: 'off',
      help: 'Active checks GET this path on every upstream; empty: no active checks.',
    }),
    intervalMs: setting({ live: true, kind: duration({ min: 1 }), default: 5_000, help: 'Time between two probes of one upstream.' }),
    timeoutMs: setting({ live: true, kind: duration({ min: 1 }), default: 2_000, help: 'A probe without an answer within this time failed.' }),
    healthyThreshold: setting({ live: true, kind: count({ min: 1 }), default: 2, help: 'Good probes in a row that bring an unhealthy or ejected upstream back.' }),
    unhealthyThreshold: setting({ live: true, kind: count({ min: 1 }), default: 3, help: 'Failed probes in a row that take a healthy upstream out.' }),
    expectStatuses: setting({ live: true, kind: statusRanges(), default: [[200, 399]], help: 'Statuses that count as healthy: codes and ranges, comma-separated.' }),
  },
  passiveHealth: {
    maxFails: setting({
      live: true,
      kind: count(),
      default: 5,
      help: 'Failures in a row of real requests (connect errors, timeouts, resets, 502/503/504; not 500/501, the application answering about one URL) that eject an upstream; 0 turns ejection off.',
    }),
    // Ejections end when a clock reading passes them (origin/health.ts), never by a timer.
    ejectMs: setting({ live: true, kind: duration({ min: 1, max: CLOCK_ONLY_MS }), default: 10_000, help: 'First ejection; doubled for each further one while the upstream keeps failing.' }),
    maxEjectMs: setting({ live: true, kind: duration({ min: 1, max: CLOCK_ONLY_MS }), default: 300_000, help: 'Longest ejection.' }),
  },
  retries: {
    count: setting({
      live: true,
      kind: count(),
      default: 2,
      help:
        'Retries, each on an upstream not yet tried, of a request that failed before any response byte ' +
        '(connect error, reset) when it is idempotent and has no body.',
    }),
    // A deadline compared with the clock before each retry (origin/pool.ts), never a timer.
    budgetMs: setting({ live: true, kind: duration({ max: CLOCK_ONLY_MS }), default: 10_000, help: 'No retry starts later than this after the first attempt.' }),
    // Envoy's retry budget (budget_percent 20, min_retry_concurrency 3), Finagle's
    // RetryBudget: an outage must not multiply the load on the origin by count + 1.
    concurrencyPercent: setting({
      live: true,
      kind: count({ min: 0, max: 100 }),
      default: 20,
      help:
        'Retries under way at once, at most this percent of the requests in flight to the pool (never fewer than 3 at once): ' +
        'when every upstream fails, retries cannot multiply the load on them. 100: no bound below the requests in flight.',
    }),
  },
};
