// Settings of the compression stage (src/transform/): negotiation, what is
// compressed, and the decoding limit. See ./index.ts for how to add a setting.
// Live on reload: everything the request path reads (handle.ts builds it per
// generation). The background recompression queue is the node's, built at start:
// recompress and recompressQueueMax need a restart (and enabling compression by a
// reload leaves made variants at their fast level until then).

import { count, onOff, size } from '../kinds.js';
import { mediaTypePatterns, codingNames } from '../list-kinds.js';
import { setting } from '../setting.js';
import { MiB } from '../units.js';

/** Codings an operator may list; zstd is offered only where the runtime's zlib has it. */
export const CODING_NAMES = ['br', 'gzip', 'zstd'] as const;

/** Text-like types worth compressing: text, JSON, JavaScript, XML, SVG, wasm, HLS and DASH playlists, fonts without their own compression. */
export const COMPRESSIBLE_TYPES = [
  'text/*',
  'application/json',
  '+json',
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/xml',
  '+xml',
  'application/wasm',
  'application/vnd.apple.mpegurl',
  'application/x-mpegurl',
  'audio/mpegurl',
  'audio/x-mpegurl',
  'application/x-font-ttf',
  'font/ttf',
  'font/otf',
  'application/vnd.ms-fontobject',
];

export const compress = {
  enabled: setting({
    live: true,
    kind: onOff(),
    default: true,
    flag: 'compress',
    help: 'Compress text for clients that accept it, store each coding once, decode for clients that do not (--no-compress turns it all off).',
  }),
  codings: setting({
    live: true,
    kind: codingNames(CODING_NAMES, 'content codings'),
    default: [...CODING_NAMES],
    help: 'Codings offered, most preferred first; a client weight (q) beats this order. zstd only where node:zlib has it (Node 22.15+).',
  }),
  types: setting({
    live: true,
    kind: mediaTypePatterns(),
    default: COMPRESSIBLE_TYPES,
    help: 'Media types compressed: exact, type/* or +suffix. Media and already-compressed types are never compressed whatever this says.',
  }),
  minBytes: setting({ live: true, kind: size(), default: 1024, help: 'Bodies smaller than this are sent as they are.' }),
  maxDecodedBytes: setting({
    live: true,
    kind: size({ min: 1 }),
    default: 64 * MiB,
    help: "An origin's compressed body decoded past this (a zip bomb) is cut and not stored.",
  }),
  recompress: setting({
    kind: onOff(),
    default: true,
    help: 'Recompress each stored variant at the best level in the background, replacing the fast first one.',
  }),
  recompressQueueMax: setting({
    kind: count({ min: 1 }),
    default: 256,
    help: 'Background recompressions waiting at once; beyond it the fast variant is kept as it is.',
  }),
};
