// The shape of a validated, frozen Strata configuration. Units live in the names
// (Bytes, Ms, S). Every field has a default in ./defaults.ts; nothing else in src/
// reads process.env or argv.

export interface ListenAddress {
  host: string;
  port: number;
}

export interface UpstreamConfig {
  /** Base URL, e.g. http://10.0.0.1:9000 (path prefix allowed). */
  url: string;
  /** Share of the traffic relative to the other upstreams (1 = one share). */
  weight: number;
  /** Connection pool size towards this upstream. */
  maxConnections: number;
}

export type BalancerName = 'round-robin' | 'least-connections' | 'p2c-ewma' | 'consistent-hash';

/** Active probes of every upstream; an empty path turns them off. */
export interface HealthCheckConfig {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  /** Good probes in a row that make an unhealthy (or ejected) upstream healthy. */
  healthyThreshold: number;
  /** Failed probes in a row that make a healthy upstream unhealthy. */
  unhealthyThreshold: number;
  /** Inclusive status ranges a probe must get, e.g. [[200, 399]]. */
  expectStatuses: (readonly [number, number])[];
}

/** Ejection on the evidence of real requests (connect errors, timeouts, resets, 5xx). */
export interface PassiveHealthConfig {
  /** Consecutive failures that eject an upstream; 0 turns passive ejection off. */
  maxFails: number;
  /** First ejection; each further one in a row doubles it. */
  ejectMs: number;
  maxEjectMs: number;
}

export interface RetryConfig {
  /** Further attempts, each on another upstream, after the first. */
  count: number;
  /** No retry starts later than this after the first attempt began. */
  budgetMs: number;
}

export interface OriginConfig {
  /** The pool serving the site; `--origin URL` (repeatable) or origin.url / origin.upstreams. */
  upstreams: UpstreamConfig[];
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** Default pool size per upstream (an upstream's own maxConnections wins). */
  maxConnections: number;
  balancer: BalancerName;
  healthCheck: HealthCheckConfig;
  passiveHealth: PassiveHealthConfig;
  retries: RetryConfig;
}

export interface CacheConfig {
  /** Directory of the disk tier (cacache layout). */
  dir: string;
  memoryMaxBytes: number;
  /** Bodies larger than this skip the memory tier and live on disk only. */
  memoryMaxObjectBytes: number;
  diskMaxBytes: number;
  /** Node-specific targeted field (RFC 9213 §2.1); takes precedence over CDN-Cache-Control. */
  targetedField: string;
  /** Pass CDN-Cache-Control and the node-specific field on to clients. */
  passTargetedFields: boolean;
  /** Store responses carrying Set-Cookie (the Set-Cookie field itself is stripped before storing). */
  storeSetCookie: boolean;
  /** Fraction of (Date - Last-Modified) used as heuristic freshness (RFC 9111 §4.2.2). */
  heuristicFraction: number;
  /** Upper bound of a heuristic freshness lifetime. */
  heuristicMaxS: number;
  /** Grace for entries whose response names no stale-while-revalidate (RFC 5861 §3): served stale while one background revalidation runs. */
  staleWhileRevalidateS: number;
  /** Window for entries whose response names no stale-if-error (RFC 5861 §4): served stale when the origin fails. */
  staleIfErrorS: number;
}

export interface CoalesceConfig {
  /**
   * Bytes of one origin body kept for clients collapsed onto it. A body within it is
   * kept whole until the fill ends, so any follower gets it from the first byte;
   * past it, the slowest reader paces the origin transfer and late comers fetch alone.
   */
  windowBytes: number;
  /** How long a key whose response could not be shared is fetched without queueing (Varnish's hit-for-pass). */
  hitForPassS: number;
}

export interface SlicesConfig {
  /** Objects larger than this are fetched and stored in slices when a range request misses (origin permitting). */
  thresholdBytes: number;
  /** Size of one slice: each is its own entry, fetched with one origin range request. */
  sliceBytes: number;
}

export interface PurgeConfig {
  /** Pass the origin's tag fields (Surrogate-Key, Cache-Tag) on to clients; they are hidden by default. */
  passTagHeaders: boolean;
}

export interface LimitsConfig {
  maxUrlBytes: number;
  maxHeaderBytes: number;
  /** Time a client has to send its request headers; a new connection's first request counts from accept. */
  requestHeadersTimeoutMs: number;
  /** Open connections one client address may hold on the proxy listener; 0: no cap. */
  maxConnectionsPerClient: number;
  /** Bound on the graceful shutdown: in-flight requests get this long to finish. */
  shutdownGraceMs: number;
}

export interface AdminConfig {
  listen: ListenAddress;
  /** Empty string: no token configured (admin actions that need one are refused). */
  token: string;
  /** Host names the admin API answers besides localhost and IP addresses (DNS rebinding defence). */
  hosts: string[];
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  nodeId: string;
  listen: ListenAddress;
  admin: AdminConfig;
  origin: OriginConfig;
  cache: CacheConfig;
  coalesce: CoalesceConfig;
  slices: SlicesConfig;
  purge: PurgeConfig;
  limits: LimitsConfig;
  logLevel: LogLevel;
}
