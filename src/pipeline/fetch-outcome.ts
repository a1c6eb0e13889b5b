// What one origin fetch is asked (FetchRequest, with what it needs: FetchDeps) and what it
// says it produced (FetchOutcome): the fetch step's contract with the clients that share it
// (shared-fetch.ts, answer.ts), slices (slices.ts) and the cluster. The fetch itself is
// fetch-and-store.ts.

import type { Logger } from 'pino';
import type { SharedBody } from '../coalesce/shared-body.js';
import type { EntryBounds } from '../cache/entry-bounds.js';
import type { NotModifiedInput } from '../cache/revalidate.js';
import type { NotStoredReason, StoragePolicyOptions } from '../cache/storable.js';
import type { StrataError } from '../errors.js';
import type { HeaderMap } from '../http/headers.js';
import type { NotStoredLog } from '../observability/not-stored.js';
import type { Stats } from '../observability/stats.js';
import type { OriginClient, OriginResponse } from '../origin/client.js';
import type { EntryMeta, Purgeable, Store, StoredEntry } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import type { CancelSignal } from '../util/cancel-signal.js';
import type { ClusterPath, CompressEnv } from './context.js';
import type { SharedMeta } from './shared-meta.js';

/**
 * What one origin fetch produced, decided before any client reads it; each client
 * collapsed onto the fetch switches on it.
 */
export type FetchOutcome =
  /** No response (transport failure, timeout): each client decides (stale-if-error or error). */
  | { kind: 'failed'; error: StrataError }
  /** A 304 that matched the stored entry. */
  | {
      kind: 'validated';
      upstream: string;
      /** The entry to answer with: refreshed, or as it was when it could not be refreshed. */
      entry: StoredEntry;
      refreshed: boolean;
      detail?: string;
      /** The 304 answered this request's credentials only (RFC 9111 §3.5): no collapsed client may use it. */
      own?: boolean;
      /** Taken when the fetch began: a variant made from `entry` (pipeline/variants.ts) carries it too. */
      purgeMark: number;
      /** The 304 and its times: it validates every stored response with the same strong validator (RFC 9111 §4.3.4). */
      notModified: Omit<NotModifiedInput, 'meta'>;
      /** Refreshed, but storing dropped some of the 304's fields (its Set-Cookie): the fetch's own client's answer, never a follower's. */
      leaderMeta?: EntryMeta;
      /** The other codings of the same response, refreshed by the 304 too (refresh-codings.ts), by key. */
      otherCodings?: ReadonlyMap<string, EntryMeta>;
    }
  /** A storable response, being written to the tiers by a fill reading `body` like any client. */
  | {
      kind: 'storing';
      upstream: string;
      status: number;
      /** Fields for clients of the stored body (with compression: its Vary, its coding). */
      headers: HeaderMap;
      body: SharedBody;
      stored: EntryMeta;
      /** Taken when the fetch began: a variant made from this body (pipeline/variants.ts) carries it too. */
      purgeMark: number;
      heads?: ClientHeads;
    }
  /** A response that is not stored: passed through to its clients. */
  | {
      kind: 'passing';
      upstream: string;
      status: number;
      headers: HeaderMap;
      body: SharedBody;
      reason: NotStoredReason;
      /** The same answer is right for every collapsed follower (an origin error); else each fetches its own. */
      shareable: boolean;
      /** The refusal is the response's own: requests for the key should not wait for one another for a while. */
      hitForPass: boolean;
      heads?: ClientHeads;
    }
  /**
   * A storable 200 large enough to be stored in slices instead: nothing of it was
   * read, the transfer is stopped; the clients are answered from slices.
   */
  | { kind: 'sliceable'; upstream: string };

/**
 * The response fields each kind of client of a shared response gets (answer.ts sharedHead), built
 * by the first client of the kind; absent until a client is answered, so a fetch need not make it. Kept on the outcome, not in a WeakMap keyed by it: V8's scavenges
 * keep a WeakMap's entries (keys and what they hold) until a full collection, so an entry per miss
 * carried each miss's outcome, and its body and fields, into the old generation.
 */
export type ClientHeads = (string[] | undefined)[];

export interface FetchRequest {
  id: number;
  /** Primary cache key. */
  key: string;
  /** The triggering client's request fields (storing rules, Vary). */
  requestHeaders: HeaderMap;
  /** Credential fields the edge checked and took out of requestHeaders (edge.publicAfterAuth). */
  vouched?: readonly string[] | undefined;
  /** Fields to send to the origin (validators are added here). */
  originHeaders: HeaderMap;
  target: string;
  /** The stored entry this fetch may validate or replace, if any. */
  stored?: StoredEntry;
  /** Stale-if-error may serve `stored`, now or once stale, judged from the entry alone: an error response must not replace it. */
  keepStaleOnError?: boolean;
  /** A large storable 200 may be answered "sliceable" instead of being stored whole. */
  maySlice?: boolean;
  /** Fetched through the cluster (the owner, else the origin); false: from the origin (a peer's request). */
  viaCluster?: boolean;
  /** Interim (1xx) responses, for the client that leads the fetch (never stored). */
  onInterim?: (status: number, headers: HeaderMap) => void;
  /** Cancels the fetch before the origin answers (every waiting client gone: pipeline/fetch-interest.ts). */
  signal?: CancelSignal;
  /**
   * The origin's response, already received for another request of this object (a
   * slice's range request the origin answered with the whole 200: slices.ts): stored
   * and shared from here as if this fetch had made it, no second origin request.
   */
  answered?: AnsweredFetch;
}

/** A response received before the fetch that stores it began, with the times and purge mark of its request. */
export interface AnsweredFetch {
  res: OriginResponse;
  requestTimeMs: number;
  responseTimeMs: number;
  purgeMark: number;
}

export interface FetchDeps {
  store: Store & Purgeable;
  origin: OriginClient;
  clock: Clock;
  logger: Logger;
  stats: Stats;
  policy: StoragePolicyOptions;
  windowBytes: number;
  /** The window of a body that is not stored (one client reads it): bounded buffering ahead of a slow client. */
  passWindowBytes: number;
  /** Objects above this are worth storing in slices (cache/slicing.ts). */
  sliceThresholdBytes: number;
  /** What one entry may cost (cache/entry-bounds.ts). */
  bounds: EntryBounds;
  /** Where each refusal to store is remembered for `GET /explain`. */
  notStored?: NotStoredLog;
  /** The cluster: the one place the miss path picks the owner peer instead of an upstream. */
  cluster?: Pick<ClusterPath, 'request' | 'forPeer'>;
  /** Which tiers keep a copy of what a peer answered (cluster.edgeCopies). */
  edgeCopy?: { tiers: ClusterPath['edgeCopies']; memoryMaxObjectBytes: number };
  /** The compression stage; absent when off. */
  compress?: CompressEnv;
  /** Values and empty lists shared between stored entries (shared-meta.ts); one table per route path. */
  sharedMeta: SharedMeta;
}

export interface FetchWork {
  outcome: Promise<FetchOutcome>;
  /** Resolves once the store work is over (entry committed or given up). */
  done: Promise<unknown>;
}
