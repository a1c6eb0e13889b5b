// Settings of the edge guard (src/routing/guard/): who may reach the cache and the
// origin, and what of the origin the clients see. Applied to every request of the
// node but those of a route with rules of its own (sites.….guard, the same shape,
// parsed with these declarations by ../route-guard.ts). See
// ./index.ts for how to add a setting. All live: a reload builds a new guard when
// any of them changed (src/node.ts), before applying anything.

import { claimFields, cookieName, fieldName, filterRules, jwsAlgorithms, rate, serviceUrl, text, words } from '../edge-kinds.js';
import { CLOCK_ONLY_MS, count, duration, oneOf, onOff, seconds } from '../kinds.js';
import { fieldNames } from '../list-kinds.js';
import { setting } from '../setting.js';

/** Response fields that name the origin's software; removed by default (edge.hideResponseFields). */
export const ORIGIN_IDENTIFYING_FIELDS = [
  'server',
  'x-powered-by',
  'x-aspnet-version',
  'x-aspnetmvc-version',
  'x-sourcefiles',
  'x-runtime',
  'x-generator',
  'x-backend-server',
  'x-drupal-cache',
  'x-drupal-dynamic-cache',
  'x-varnish',
] as const;

export const edge = {
  filters: setting({
    live: true,
    kind: filterRules(),
    default: [],
    defaultText: 'none',
    example: [
      'filters:',
      '  - name: admin-from-office',
      '    action: allow',
      '    paths: [/admin/]',
      '    addresses: [10.0.0.0/8, "2001:db8::/32"]',
      '  - name: admin-denied',
      '    action: deny',
      '    paths: [/admin/]',
      '  - name: no-scanners',
      '    action: deny',
      '    headers: { user-agent: "~* (sqlmap|nikto)" }',
      '  - name: read-only',
      '    action: deny',
      '    methods: [PUT, DELETE, PATCH]',
    ],
    help:
      'Request filter rules, first match wins: deny answers 403 (logged with the rule name), allow skips the rules after it; ' +
      'no match lets the request through. A rule matches when every condition it names holds: methods (GET covers HEAD), paths ' +
      '(/prefix, glob /img/*.png and /a/**, or "~ regex"; decoded, without the query), headers (field: exact value, "*" present, ' +
      '"!" absent, "~ regex", "~* regex" ignoring case; host as sites match it: lower-case, no port or trailing dot), addresses (CIDR, IPv4 and IPv6). As a flag: YAML flow text.',
  }),
  rateLimit: {
    requestsPerS: setting({
      live: true,
      kind: rate(),
      default: 0,
      defaultText: '0 (off)',
      help: 'Requests per second one client may make (a token bucket refilled at this rate); beyond, 429 with Retry-After. 0: no limit.',
    }),
    burst: setting({ live: true, kind: count({ min: 1 }), default: 50, help: 'Requests a client may make at once before the rate applies (the bucket size).' }),
    by: setting({
      live: true,
      kind: oneOf(['address', 'header'] as const, 'a client key'),
      default: 'address',
      help: 'What a client is: its address (an IPv6 client by its /64) or the value of rateLimit.header. On a route with auth, a value counts as a client of its own once the auth passed a request bearing it, and only if the auth judges that field: one of forwardAuth.requestFields (sent to the auth service), or Authorization carrying the jwt bearer token. Until then, when the request lacks the field, and always for a field the route\'s auth does not judge, its address pays, so inventing values is no way around the limit. On a route without auth the value is believed as sent (for a field a proxy in front of Strata sets; a new value costs its address one token).',
    }),
    header: setting({ live: true, kind: fieldName('X-Api-Key'), default: '', defaultText: 'none', help: 'The request field naming the client when rateLimit.by is header.' }),
    maxClients: setting({
      live: true,
      kind: count({ min: 1 }),
      default: 100_000,
      help: 'Clients whose buckets are remembered (least recently seen forgotten first, ~150 bytes each: a field value is kept as its digest); a forgotten client starts with a full bucket.',
    }),
  },
  forwardAuth: {
    url: setting({
      live: true,
      kind: serviceUrl('http://127.0.0.1:9091/verify'),
      default: '',
      defaultText: 'off',
      help:
        'Auth service asked before each request is served (nginx auth_request style), cache hits included: 2xx lets it through, ' +
        '401/403 (with WWW-Authenticate) and redirects (301, 302, 303, 307, 308 with Location) are returned to the client; anything else, or no answer, is 503 (fails closed).',
    }),
    requestFields: setting({
      live: true,
      kind: fieldNames('Authorization, Cookie'),
      default: ['authorization', 'cookie'],
      help:
        "The client's request fields sent to the auth service, besides X-Original-Method, X-Original-URI, X-Forwarded-Method, " +
        '-Uri, -Host, -Proto and -For; their values also key the remembered decisions.',
    }),
    identityFields: setting({
      live: true,
      kind: fieldNames('X-Auth-User, X-Auth-Email'),
      default: [],
      defaultText: 'none',
      help:
        "Fields copied from the auth service's 2xx answer to the request sent to the origin. A client's own copies are always removed, " +
        'so the origin can trust them.',
    }),
    timeoutMs: setting({ live: true, kind: duration({ min: 1 }), default: 2_000, help: 'Time the auth service has to answer (beyond: 503 AUTH_UNAVAILABLE).' }),
    cacheTtlMs: setting({
      live: true,
      // Only added to the clock (routing/guard/forward-auth.ts), never a timer.
      kind: duration({ max: CLOCK_ONLY_MS }),
      default: 5_000,
      help: 'How long an answer (allow or deny) is reused for the same credentials; 0: ask for every request. Failures are never reused.',
    }),
    cacheMaxEntries: setting({ live: true, kind: count({ min: 1 }), default: 10_000, help: 'Remembered decisions at most (least recently used forgotten first).' }),
    cacheKey: setting({
      live: true,
      kind: oneOf(['credentials', 'credentials-and-path'] as const, 'a decision key'),
      default: 'credentials-and-path',
      help:
        'What a remembered decision is reused for: the same credentials, Host, scheme and client address on the same method and path ' +
        '(credentials-and-path), or on any path (credentials: only for an auth service whose answer depends on who asks, never on what). ' +
        'Requests without credentials are never remembered.',
    }),
  },
  jwt: {
    jwksUrl: setting({
      live: true,
      kind: serviceUrl('https://login.example/.well-known/jwks.json'),
      default: '',
      defaultText: 'off',
      help: 'JWKS to check bearer tokens against (fetched when a token names an unknown key, kept for jwt.jwksCacheS).',
    }),
    keyFiles: setting({
      live: true,
      kind: words('FILES', 'keys/signing.pub.pem'),
      default: [],
      defaultText: 'none',
      help: 'Static verification keys: PEM public keys or certificates, JWK or JWKS JSON files (an "oct" JWK for HS256). Private keys are refused. Read again on every reload (a key withdrawn from its file stops verifying).',
    }),
    issuer: setting({ live: true, kind: text('ISSUER'), default: '', defaultText: 'any', help: 'Required iss claim; empty: not checked.' }),
    audience: setting({ live: true, kind: words('AUDIENCES', 'api.example'), default: [], defaultText: 'any', help: 'Accepted aud values (one must match); empty: not checked.' }),
    algorithms: setting({
      live: true,
      kind: jwsAlgorithms(),
      default: [],
      defaultText: 'any the key allows',
      help: 'Accepted signing algorithms; empty: whatever the key type allows ("none" is never accepted).',
    }),
    clockSkewS: setting({ live: true, kind: seconds(), default: 30, help: "Tolerance for exp, nbf and iat against this node's clock." }),
    acceptWithoutExpiry: setting({ live: true, kind: onOff(), default: false, help: 'Accept tokens without an exp claim (by default they are refused: a token that never expires cannot be withdrawn).' }),
    cookie: setting({ live: true, kind: cookieName(), default: '', defaultText: 'none', help: 'Cookie holding the token when the request has no Authorization: Bearer; beside a bearer token it must verify too (an origin may read either), and sent twice it must hold one value.' }),
    claimFields: setting({
      live: true,
      kind: claimFields(),
      default: {},
      defaultText: 'none',
      example: ['claimFields: { sub: x-user, email: x-user-email, "org.id": x-org }'],
      help: "Claims sent to the origin as request fields (a client's own copies are always removed); objects and arrays as JSON.",
    }),
    jwksCacheS: setting({ live: true, kind: seconds({ min: 1 }), default: 600, help: 'How long a fetched JWKS is used before it is fetched again.' }),
    jwksTimeoutMs: setting({ live: true, kind: duration({ min: 1 }), default: 5_000, help: 'Time the JWKS URL has to answer (beyond: 503 AUTH_UNAVAILABLE).' }),
  },
  skipAuthPreflight: setting({
    live: true,
    kind: onOff(),
    default: false,
    help:
      'CORS preflight requests (OPTIONS with Origin and Access-Control-Request-Method; browsers send them without credentials) ' +
      'skip forward-auth and JWT; filters and rate limits still apply.',
  }),
  publicAfterAuth: setting({
    live: true,
    kind: onOff(),
    default: false,
    help:
      "Answers are the same for every authorised client: the credentials the edge checked are still sent to the origin but kept out of the cache's view, " +
      'so they neither keep a response from being stored and shared (RFC 9111 §3.5) nor split its variants. Only for origins that do not personalise.',
  }),
  hideResponseFields: setting({
    live: true,
    kind: fieldNames('Server, X-Powered-By'),
    default: [...ORIGIN_IDENTIFYING_FIELDS],
    help: "Origin response fields never sent to clients (hits and misses alike): by default those naming the origin's software. Replaces the list; [] keeps them all.",
  }),
};
