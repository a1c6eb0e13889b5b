// Settings of TLS termination on the proxy listener: certificates (chosen by
// SNI), HTTP/2, certificate reload, and the plain-HTTP redirect listener. See
// ./index.ts for how to add a setting.

import { count, duration, oneOf, onOff } from '../kinds.js';
import { setting } from '../setting.js';
import { certificatePairs, optionalHostPort } from '../tls-kinds.js';

export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;

export const tls = {
  certificates: setting({
    kind: certificatePairs(),
    default: [],
    fieldFlags: { cert: 'tls-cert', key: 'tls-key' },
    defaultText: 'none: plain HTTP',
    example: [
      'certificates:',
      '  - cert: /etc/strata/tls/example.com.crt   # PEM chain, leaf first',
      '    key: /etc/strata/tls/example.com.key',
      '  - cert: /etc/strata/tls/other.example.crt',
      '    key: /etc/strata/tls/other.example.key',
    ],
    help:
      'Certificate and key files (PEM) that turn the listen address into HTTPS (HTTP/2 and HTTP/1.1). ' +
      'Repeat the pair for several sites: the certificate whose names (SAN, * wildcards) match the client\'s SNI ' +
      'is chosen, the first one otherwise. Files are re-read when they change (a bad new pair is refused and the old one kept).',
  }),
  http2: setting({ kind: onOff(), default: true, help: 'Offer HTTP/2 (ALPN h2) beside HTTP/1.1 on the TLS listener.' }),
  minVersion: setting({ kind: oneOf(TLS_VERSIONS, 'a TLS version'), default: 'TLSv1.2', help: 'Oldest TLS version a client may use.' }),
  certCheckIntervalMs: setting({
    kind: duration(),
    default: 5_000,
    help: 'How often the certificate files are checked for changes (size, mtime, inode); 0: only on reload.',
  }),
  http2MaxConcurrentStreams: setting({ kind: count({ min: 1 }), default: 100, help: 'Requests one HTTP/2 connection may have in flight at once. A connection may hold up to 10 MB plus 80 KiB per stream of node:http2 session memory (what a client that reads nothing pins until limits.sendTimeoutMs).' }),
  http2IdleTimeoutMs: setting({ kind: duration({ min: 1 }), default: 75_000, help: 'An HTTP/2 connection idle this long is closed: with no stream open, only a new stream counts as activity (not PING, SETTINGS or WINDOW_UPDATE); with streams open, any byte either way.' }),
  redirectListen: setting({
    kind: optionalHostPort(),
    default: null,
    flag: 'redirect-listen',
    defaultText: 'off',
    help: 'A plain-HTTP address that answers every request with 308 to the same path over HTTPS (on the Host named by the client). Empty: off.',
  }),
  redirectPort: setting({
    kind: count({ max: 65_535 }),
    default: 0,
    help: 'Port the HTTPS redirect points to, when clients reach the TLS listener on another port than it binds (NAT, containers); 0: its own.',
  }),
};
