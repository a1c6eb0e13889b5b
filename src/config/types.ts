// The shape of a validated, frozen Strata configuration, derived from the one
// declaration of every setting (./schema/). Units live in the names (Bytes, Ms,
// S). Nothing in src/ outside cli.ts reads process.env or argv.

import type { SchemaConfig } from './schema/index.js';

export type { ListenAddress } from './units.js';
export type { UpstreamConfig } from './upstream-kinds.js';

export type Config = SchemaConfig;
export type OriginConfig = Config['origin'];
export type HealthCheckConfig = OriginConfig['healthCheck'];
export type PassiveHealthConfig = OriginConfig['passiveHealth'];
export type RetryConfig = OriginConfig['retries'];
export type CacheConfig = Config['cache'];
export type CoalesceConfig = Config['coalesce'];
export type SlicesConfig = Config['slices'];
export type PurgeConfig = Config['purge'];
export type ClusterConfig = Config['cluster'];
export type LimitsConfig = Config['limits'];
export type AdminConfig = Config['admin'];
export type EdgeConfig = Config['edge'];
export type TlsConfig = Config['tls'];
export type { CertificatePair } from './tls-kinds.js';
export type BalancerName = OriginConfig['balancer'];
export type LogLevel = Config['logLevel'];
