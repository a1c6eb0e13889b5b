// Settings of what is stored and how: the two tiers, freshness defaults,
// coalescing, slicing and purge tags. See ./index.ts for how to add a setting.

import { count, directory, fraction, httpToken, onOff, seconds, size } from '../kinds.js';
import { setting } from '../setting.js';
import { GiB, MiB } from '../units.js';

export const cache = {
  dir: setting({ kind: directory(), default: 'storage/cache', flag: 'cache-dir', help: 'Directory of the disk tier (storage/README.md says what is in it).' }),
  memoryMaxBytes: setting({ kind: size(), default: 256 * MiB, flag: 'memory-size', help: 'Memory tier capacity (bodies plus a metadata estimate); 0 turns the memory tier off (not together with --disk-size 0).' }),
  memoryMaxObjectBytes: setting({
    kind: size(),
    default: 8 * MiB,
    flag: 'memory-max-object',
    help: 'Bodies larger than this skip the memory tier and live on disk only.',
  }),
  diskMaxBytes: setting({
    kind: size(),
    default: 10 * GiB,
    flag: 'disk-size',
    help: 'Disk tier capacity: bodies (in whole blocks), segment files, the index and temp files together; 0 turns the disk tier off (not together with --memory-size 0).',
  }),
  diskWriteQueueMaxWrites: setting({
    kind: count({ min: 1 }),
    default: 1024,
    help: 'Body writes waiting for the disk at once; beyond it (or the byte bound) a write is shed: served, kept in memory, counted.',
  }),
  diskWriteQueueMaxBytes: setting({
    kind: size({ min: 1 }),
    default: 64 * MiB,
    help: 'Body bytes waiting for the disk at once, at most half of diskMaxBytes; beyond it a write is shed (see diskWriteQueueMaxWrites).',
  }),
  heapGrowthPercent: setting({
    kind: count({ min: 0, max: 400 }),
    default: 30,
    help:
      "How far V8's heap may grow past its live data before a full collection, in percent, once that live data passes 32 MiB; below 80 MiB of live data, at least the slack in bytes this gives at 80 MiB, and never less than a fifth of --memory-size (0: V8's own choice, up to 300; a smaller heap: V8's own choice, held to 48 MiB of slack or that fifth). " +
      'Bounds the process beside --memory-size under a storm of misses; lower costs more collections.',
  }),
  maxStoredUrlBytes: setting({
    live: true,
    kind: size({ min: 1 }),
    default: 4 * 1024,
    help: 'Longer URLs are served but not stored (Cache-Status detail=url-too-long).',
  }),
  maxStoredHeaderBytes: setting({
    live: true,
    kind: size({ min: 1 }),
    default: 32 * 1024,
    help: 'Responses whose stored header block is larger are served but not stored (detail=headers-too-large).',
  }),
  maxVariants: setting({
    live: true,
    kind: count({ min: 1 }),
    // Traffic Server keeps at most 5 alternates; a little more room for Accept-Encoding and Accept-Language.
    default: 8,
    help: 'Variants (Vary) stored per URL; a further variant is served but not stored (detail=too-many-variants).',
  }),
  targetedField: setting({
    live: true,
    kind: httpToken('an HTTP field name', 'Strata-Cache-Control'),
    default: 'Strata-Cache-Control',
    flag: 'targeted-field',
    help: 'Node-specific targeted cache-control field (RFC 9213); beats CDN-Cache-Control.',
  }),
  passTargetedFields: setting({ live: true, kind: onOff(), default: false, help: 'Pass CDN-Cache-Control and the targeted field on to clients.' }),
  storeSetCookie: setting({
    live: true,
    kind: onOff(),
    default: false,
    flag: 'store-set-cookie',
    help: 'Store responses carrying Set-Cookie (the Set-Cookie field itself is stripped).',
  }),
  storeCookieHeuristic: setting({
    live: true,
    kind: onOff(),
    // A deviation from RFC 9111 §4.2.2 (CACHING.md, Deviations): cache deception.
    default: false,
    help:
      'Store responses to requests carrying Cookie on heuristic freshness or validators alone, as RFC 9111 allows. ' +
      "Off: they are stored only with explicit freshness, public or Vary: Cookie, so a user's page is not kept for others.",
  }),
  heuristicFraction: setting({
    live: true,
    kind: fraction(),
    default: 0.1,
    help: 'Fraction of (Date - Last-Modified) used as heuristic freshness (RFC 9111 §4.2.2).',
  }),
  heuristicMaxS: setting({ live: true, kind: seconds(), default: 86_400, help: 'Upper bound of a heuristic freshness lifetime.' }),
  staleWhileRevalidateS: setting({
    live: true,
    kind: seconds(),
    // RFC 9111 §4.2.4: no stale answers unless the origin or the client allows them.
    default: 0,
    flag: 'stale-while-revalidate',
    help:
      'Grace for responses without stale-while-revalidate (RFC 5861 §3): a stale entry is served at once ' +
      "while one background revalidation runs. 0 keeps RFC 9111's default; Varnish's default grace is 10.",
  }),
  staleIfErrorS: setting({
    live: true,
    kind: seconds(),
    default: 0,
    flag: 'stale-if-error',
    help:
      'Window for responses without stale-if-error (RFC 5861 §4): a stale entry is served when the origin fails ' +
      '(connect error, timeout, a 500, 502, 503 or 504). 0: only when the origin allows.',
  }),
  staleIfDisconnectedS: setting({
    live: true,
    kind: seconds(),
    // RFC 9111 §4.2.4 lets a disconnected cache serve stale; Squid and Traffic Server do by default.
    default: 86_400,
    flag: 'stale-if-disconnected',
    help:
      'How stale an entry may be and still be served when the origin cannot be reached at all (connection refused ' +
      'or reset, no answer in time; not a 5xx), unless its directives forbid stale use (must-revalidate, ' +
      'proxy-revalidate, s-maxage, no-cache). 0: never.',
  }),
};

export const coalesce = {
  windowBytes: setting({
    live: true,
    kind: size(),
    default: 8 * MiB,
    help:
      'Bytes of one origin body kept for clients collapsed onto the same fetch. A body within it is kept whole ' +
      'until the fill ends; past it the fill and the clients keeping up pace the origin transfer and later clients fetch on their own.',
  }),
  hitForPassS: setting({
    live: true,
    kind: seconds(),
    // Varnish's built-in hit-for-miss lasts 120 s.
    default: 120,
    help: "How long a URL whose response could not be shared is fetched without queueing (Varnish's hit-for-pass).",
  }),
  hitForPassMaxKeys: setting({
    live: true,
    kind: count({ min: 1 }),
    default: 100_000,
    help: 'URLs remembered as hit-for-pass at once; the least recently marked are forgotten first.',
  }),
  hitForPassMaxKeyBytes: setting({
    live: true,
    kind: size({ min: 1 }),
    default: 16 * MiB,
    help: 'Bytes of the URLs remembered as hit-for-pass at once (each counted with 64 bytes of bookkeeping): clients choose them, and long ones would fill hitForPassMaxKeys with hundreds of MB. The least recently marked are forgotten first.',
  }),
};

export const slices = {
  thresholdBytes: setting({
    live: true,
    kind: size(),
    default: 8 * MiB,
    flag: 'slice-threshold',
    help:
      'A range request that misses on an object larger than this (whose origin answers ranges with a strong ETag ' +
      'or a Last-Modified at least a second before its Date) makes Strata fetch and store the object in slices, each its own entry.',
  }),
  // nginx's slice module is usually run with 1–4 MiB slices.
  sliceBytes: setting({ live: true, kind: size({ min: 65_536 }), default: 4 * MiB, flag: 'slice-size', help: 'Size of one slice (one origin range request, one entry).' }),
};

export const purge = {
  // Tags name the origin's internal groupings (products, users' content): not for clients.
  passTagHeaders: setting({ live: true, kind: onOff(), default: false, help: "Pass the origin's purge tag fields (Surrogate-Key, Cache-Tag) on to clients." }),
};
