// The one declaration of every Strata setting. Config's type, the defaults, the
// YAML reader, the STRATA_* environment names, the flags, --help and
// config/default.yaml all derive from SCHEMA; tests walk it.
//
// To add a setting, add ONE declaration to the group it belongs to (./node.ts,
// ./origin.ts, ./cache.ts, or a new file for a new area, spread into SCHEMA below):
//
//   writeQueueMaxBytes: setting({ kind: size({ min: 1 }), default: 64 * MiB, help: 'One line for --help and the docs.' }),
//
// Its place in the tree is its YAML key (cache.writeQueueMaxBytes) and its
// Config field; its flag and env name derive from that path
// (--cache-write-queue-max-bytes, STRATA_CACHE_WRITE_QUEUE_MAX_BYTES). Keep the
// unit in the name (Bytes, Ms, S) and pick the kind that parses it (../kinds.ts;
// bounds are the kind's parameters). Then run `npm run config:docs` to
// regenerate config/default.yaml; the tests fail until it agrees.
//
// Reload: a setting is restart-only unless declared `live: true`, which promises
// that a reload (SIGHUP, POST /reload) applies it: either through the generation
// src/node.ts rebuilds per reload (anything read by createProxyHandler or the
// admin routes is live for free), or through a component's reconfigure step, or
// through a ReloadHook the feature registers (node.onReload: check, then apply).

import { type ConfigOf, entriesOf, type Schema } from '../setting.js';
import { cache, coalesce, purge, slices } from './cache.js';
import { compress } from './compress.js';
import { admin, limits, listen, logLevel, nodeId } from './node.js';
import { cluster } from './cluster.js';
import { edge } from './edge.js';
import { origin } from './origin.js';
import { sites, sitesFile } from './sites.js';
import { tls } from './tls.js';
import { workers } from './workers.js';

export { BALANCER_NAMES, DROPPED_REQUEST_FIELDS } from './origin.js';
export { EDGE_COPY_TIERS, type PeerSpec } from './cluster.js';
export { LOG_LEVELS, nodeIdFromHostname } from './node.js';
export { TLS_VERSIONS } from './tls.js';
export { ORIGIN_IDENTIFYING_FIELDS } from './edge.js';

// The order here is the order of --help and config/default.yaml.
export const SCHEMA = { nodeId, listen, workers, logLevel, tls, admin, origin, sites, sitesFile, cache, coalesce, slices, purge, compress, cluster, limits, edge } satisfies Schema;

export type SchemaConfig = ConfigOf<typeof SCHEMA>;

export const ENTRIES = entriesOf(SCHEMA);
