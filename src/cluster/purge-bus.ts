// The Redis purge bus (--purge-bus redis://HOST:PORT): every purge a node accepts
// is appended to one Redis Stream; every node reads the stream from its own
// position, kept in a Redis hash (one field per node id) and moved only after the
// purges before it were applied. A node that was down replays what it missed
// BEFORE it serves again (node.ts awaits catchUp() before it listens: decided
// replay-then-serve, because serving first would hand out purged content for as
// long as the replay takes; purges are cheap to apply, so the wait is short). The
// wait is bounded all the same: a Redis that does not answer, or stalls mid-replay
// (no step of it ends within the wait), lets the node serve; the read loop replays
// the rest once it answers.
//
// The accepting node's answer waits, at most cluster.purgeAckTimeoutMs, until the
// live peers' positions reach the purge. Redis unreachable never stops serving:
// publish() fails fast (no offline queue), and the caller falls back to fan-out.
// A position older than the stream's oldest entry (trimmed while the node was
// away) means purges were lost for it: it purges everything, the one safe answer.
//
// Entries are signed with cluster.secret (peer-auth.ts busEntrySignature), as
// fan-out bodies are: whoever can write to Redis but lacks the secret cannot purge
// (an entry whose signature fails is skipped and reported through onForged). So
// every node on one bus must share cluster.secret; a bus without a secret is refused.
// An entry also signs the time its node wrote it: a copy of a genuine entry
// appended again later (a replay, by whoever can write to Redis) is refused
// because its stream id's time is too far from its signed time, and a copy
// appended at once because its signature was already seen. The comparison is in
// the stream's own time, so a node catching up hours later judges alike.
//
// Invariant: a node is reported `acked` for a purge only when it applied it. A
// genuine entry can be refused too (its writer's clock more than MAX_SKEW_MS from
// Redis's, or another cluster.secret): the reader still moves past it (one bad
// entry must not stop every later purge), but first records the refusal under
// REFUSED_KEY, and acks() reports that node `pending` with the reason.

import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { busEntrySignature, busEntrySigned, MAX_SKEW_MS } from './peer-auth.js';
import { SeenProofs } from './seen-proofs.js';
import { parseWirePurge, type WirePurge } from './purge-wire.js';
import { withoutPassword } from '../config/kinds.js';

// ioredis costs ~0.3 s of CPU to load; only a node with --purge-bus pays it.
const requireCjs = createRequire(import.meta.url);

export const STREAM_KEY = 'strata:purges';
export const POSITIONS_KEY = 'strata:purge-positions';
/** The stream is trimmed to about this many purges. */
export const STREAM_MAX_LEN = 100_000;
/** Per entry id, a hash of the nodes that refused it and why (read by acks()); kept this long. */
export const REFUSED_KEY = 'strata:purge-refused:';
const REFUSED_TTL_S = 3_600;
/** A refusal for clock skew is logged at error level at most this often. */
const SKEW_LOG_INTERVAL_MS = 60_000;
const READ_BLOCK_MS = 1_000;
/** How long a command to Redis may take before it fails (a blocking read: this beyond its block). */
const COMMAND_TIMEOUT_MS = 2_000;
const ACK_POLL_MS = 20;

export interface PurgeBusDeps {
  url: string;
  nodeId: string;
  logger: Logger;
  /** Apply a purge another node accepted. */
  apply: (p: WirePurge) => Promise<unknown>;
  /** cluster.secret: entries are signed with it and accepted only when its signature holds. */
  secret: string;
  /** An entry was skipped (`from`: the node it claims): its signature failed, or it is a copy of one already read. */
  onForged: (id: string, from: string, why: 'invalid' | 'replayed') => void;
}

/** Compare two stream ids ("ms-seq"). */
export function compareIds(a: string, b: string): number {
  const [am, as = '0'] = a.split('-');
  const [bm, bs = '0'] = b.split('-');
  return Number(am) - Number(bm) || Number(as) - Number(bs);
}

const OPTIONS = {
  lazyConnect: true,
  // Fail fast when Redis is away: purges fall back to fan-out, serving goes on.
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 1_000,
  retryStrategy: (times: number) => Math.min(times * 200, 2_000),
};

/** `p`, or a rejection with `message` (code ESTALLED) once `ms` have passed; `p` itself runs on. */
function withinMs<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(Object.assign(new Error(message), { code: 'ESTALLED' })), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The value of field `name` of a stream entry (names and values alternate). */
function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

export class PurgeBus {
  private readonly cmd: Redis;
  private readonly reader: Redis;
  private position: string | undefined;
  private closed = false;
  private loop: Promise<void> | undefined;
  private replayed = 0;
  /** Signatures of entries applied within MAX_SKEW_MS of stream time: a copy appended meanwhile is applied once. */
  private readonly seen = new SeenProofs(MAX_SKEW_MS);
  private lastSkewLogMs = -Infinity;
  lastError: string | undefined;

  constructor(private readonly deps: PurgeBusDeps) {
    // Unsigned entries would let anyone who can write to Redis purge every node.
    if (deps.secret === '') throw new Error('the purge bus needs cluster.secret: its entries are signed with it');
    // A Redis that stalls (paused, swapping, a network black hole) fails a command instead of
    // holding it for good: a purge's publish falls back to fan-out, the read loop tries again.
    const { Redis: RedisClient } = requireCjs('ioredis') as typeof import('ioredis');
    this.cmd = new RedisClient(deps.url, { ...OPTIONS, commandTimeout: COMMAND_TIMEOUT_MS });
    this.reader = new RedisClient(deps.url, { ...OPTIONS, commandTimeout: READ_BLOCK_MS + COMMAND_TIMEOUT_MS });
    for (const c of [this.cmd, this.reader]) {
      c.on('error', (err: Error) => {
        if (this.lastError !== err.message) deps.logger.warn({ purgeBus: withoutPassword(deps.url), err: err.message }, 'purge bus (Redis) error');
        this.lastError = err.message;
      });
      c.on('ready', () => (this.lastError = undefined));
    }
  }

  /**
   * Replay what this node missed before it serves. Waits at most `timeoutMs` for Redis
   * to answer, then for the whole replay as long as each step of it (the position read,
   * a batch of up to 100 entries read and applied) ends within `timeoutMs`: a Redis that
   * stalls (or an apply that hangs) ends the wait, and the node serves. Unreachable or
   * stalled, the read loop replays once Redis answers. Then it keeps reading.
   */
  async catchUp(timeoutMs: number): Promise<'replayed' | 'unreachable'> {
    // Connecting is left to ioredis (it retries); this waits for it, bounded.
    this.cmd.connect().catch(() => undefined);
    this.reader.connect().catch(() => undefined);
    const deadline = Date.now() + timeoutMs;
    const ready = () => this.cmd.status === 'ready' && this.reader.status === 'ready';
    while (!this.closed && !ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    let why = `no answer within ${timeoutMs}ms`;
    let caughtUp = false;
    // The step still running when the wait ended: the read loop starts once it settles,
    // so one reader at a time moves the position (and applies each entry once).
    let step: Promise<unknown> = Promise.resolve();
    const bounded = <T>(p: Promise<T>): Promise<T> => {
      step = p;
      return withinMs(p, timeoutMs, `purge bus replay: no progress within ${timeoutMs}ms (Redis stalled, or applying a purge did)`);
    };
    if (!this.closed && ready()) {
      try {
        await bounded(this.loadPosition());
        while (!this.closed && (await bounded(this.readOnce(false))) > 0);
        caughtUp = true;
      } catch (err) {
        why = (err as Error).message;
      }
    }
    const settled = step.then(
      () => undefined,
      () => undefined,
    );
    this.loop = settled.then(() => this.readLoop());
    if (caughtUp) {
      this.deps.logger.info({ purgeBus: withoutPassword(this.deps.url), replayed: this.replayed, position: this.position }, 'purge bus: caught up');
      return 'replayed';
    }
    this.deps.logger.warn({ purgeBus: withoutPassword(this.deps.url), err: this.lastError ?? why, replayed: this.replayed }, 'purge bus unreachable at start: serving; missed purges are replayed once it answers');
    return 'unreachable';
  }

  private async loadPosition(): Promise<void> {
    if (this.position !== undefined) return;
    const saved = await this.cmd.hget(POSITIONS_KEY, this.deps.nodeId);
    const oldest = await this.cmd.xrange(STREAM_KEY, '-', '+', 'COUNT', 1);
    if (saved === null) {
      // A node new to the bus has nothing to replay: it starts at the end.
      const last = await this.cmd.xrevrange(STREAM_KEY, '+', '-', 'COUNT', 1);
      this.position = last[0]?.[0] ?? '0-0';
      await this.cmd.hset(POSITIONS_KEY, this.deps.nodeId, this.position);
      return;
    }
    const first = oldest[0]?.[0];
    if (first !== undefined && saved !== '0-0' && compareIds(first, saved) > 0) {
      // Trimmed past our position: purges were lost for this node.
      this.deps.logger.warn({ position: saved, oldest: first }, 'purge bus trimmed past this node\'s position: purging everything');
      await this.deps.apply({ id: `${this.deps.nodeId}:trimmed`, from: this.deps.nodeId, selector: { primaryKeys: [], paths: [], urlPrefixes: [], pathPrefixes: [], tags: [], all: true } });
    }
    // Only once the purge standing for the lost ones is applied: if it fails, the next
    // attempt loads the position again and applies it again, never reads past the gap.
    this.position = saved;
  }

  /** Read and apply one batch after the position; resolves with how many entries were read. */
  private async readOnce(block: boolean): Promise<number> {
    const args: (string | number)[] = ['COUNT', 100];
    if (block) args.push('BLOCK', READ_BLOCK_MS);
    const res = (await (this.reader.xread as (...a: unknown[]) => Promise<[string, [string, string[]][]][] | null>)(...args, 'STREAMS', STREAM_KEY, this.position!)) ?? [];
    const entries = res[0]?.[1] ?? [];
    for (const [id, fields] of entries) {
      const text = field(fields, 'purge');
      const p = text !== undefined ? parseWirePurge(text) : 'no purge field';
      if (typeof p === 'string') this.deps.logger.warn({ id, problem: p }, 'purge bus: unreadable entry skipped');
      else if (p.from !== this.deps.nodeId) {
        const verdict = this.check(id, p.from, text!, fields);
        if (verdict !== 'ok') {
          if (verdict !== 'replayed') await this.refuse(id, p.from, verdict, fields);
          this.deps.onForged(id, p.from, verdict === 'invalid' ? 'invalid' : 'replayed');
        } else {
          await this.deps.apply(p);
          // Seen only once applied: an entry whose apply failed is read again (the position did
          // not pass it) and must not be taken then for a copy of itself, skipped and acked.
          this.seen.add(field(fields, 'sig')!, Number(field(fields, 'at')));
          this.replayed++;
        }
      }
      this.position = id;
      await this.cmd.hset(POSITIONS_KEY, this.deps.nodeId, id);
    }
    return entries.length;
  }

  /**
   * Signed by a node sharing the secret, appended when it signed it, and not applied
   * before (readOnce records it once applied). 'skew': the stream time is too far from
   * the signed time, a late copy or a writer whose clock is off (not told apart: both
   * are refused).
   */
  private check(id: string, from: string, text: string, fields: string[]): 'ok' | 'invalid' | 'skew' | 'replayed' {
    const at = field(fields, 'at') ?? '';
    const sig = field(fields, 'sig');
    if (!busEntrySigned(this.deps.secret, STREAM_KEY, from, at, text, sig)) return 'invalid';
    const streamMs = Number(id.split('-')[0]);
    if (Math.abs(streamMs - Number(at)) > MAX_SKEW_MS) return 'skew';
    return this.seen.has(sig!, Number(at), streamMs) ? 'replayed' : 'ok';
  }

  /** Record that this node did not apply entry `id` (before its position passes it: acks() then says pending, not acked). */
  private async refuse(id: string, from: string, why: 'invalid' | 'skew', fields: string[]): Promise<void> {
    let reason = `pending: signature failed (entry not signed with this node's cluster.secret by ${from}); not applied`;
    if (why === 'skew') {
      const offsetMs = Number(id.split('-')[0]) - Number(field(fields, 'at'));
      reason = `pending: clock skew: written by ${from} ${offsetMs} ms from Redis's time (more than ${MAX_SKEW_MS} allowed); not applied: check the clocks of ${from} and Redis`;
      const now = Date.now();
      if (now - this.lastSkewLogMs >= SKEW_LOG_INTERVAL_MS) {
        this.lastSkewLogMs = now;
        this.deps.logger.error({ entry: id, from, offsetMs, maxSkewMs: MAX_SKEW_MS }, 'purge bus entry refused for clock skew (its writer\'s clock or Redis\'s is off, or it is a late copy): NOT applied on this node, reported pending');
      }
    }
    const key = REFUSED_KEY + id;
    await this.cmd.hset(key, this.deps.nodeId, reason);
    await this.cmd.expire(key, REFUSED_TTL_S);
  }

  private async readLoop(): Promise<void> {
    while (!this.closed) {
      try {
        if (this.position === undefined) await this.loadPosition();
        await this.readOnce(true);
      } catch (err) {
        if (this.closed) return;
        this.lastError = (err as Error).message;
        // A connection that gave up (or never started) is started again; ioredis retries from there.
        for (const c of [this.cmd, this.reader]) if (c.status === 'wait' || c.status === 'end') c.connect().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Append a purge; resolves with its stream id (rejects fast when Redis is away). */
  async publish(p: WirePurge): Promise<string> {
    const text = JSON.stringify(p);
    const at = String(Date.now());
    const sig = busEntrySignature(this.deps.secret, STREAM_KEY, p.from, at, text);
    const id = await this.cmd.xadd(STREAM_KEY, 'MAXLEN', '~', STREAM_MAX_LEN, '*', 'purge', text, 'at', at, 'sig', sig);
    if (id === null) throw new Error('XADD returned no id');
    return id;
  }

  /** Wait (at most `timeoutMs`) for `peers`' positions to reach `id`; each peer's state. */
  async acks(id: string, peers: string[], timeoutMs: number): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const deadline = Date.now() + timeoutMs;
    let waiting = [...peers];
    while (waiting.length > 0) {
      const positions = await this.cmd.hmget(POSITIONS_KEY, ...waiting).catch(() => waiting.map(() => null));
      const passed = waiting.filter((_, i) => positions[i] && compareIds(positions[i]!, id) >= 0);
      // A node that passed the entry without applying it recorded why first (refuse()).
      const refused = passed.length === 0 ? [] : await this.cmd.hmget(REFUSED_KEY + id, ...passed).catch(() => passed.map(() => 'pending: its refusal record could not be read (Redis error)'));
      passed.forEach((peer, i) => (out[peer] = refused[i] ?? 'acked'));
      waiting = waiting.filter((peer) => !passed.includes(peer));
      if (waiting.length === 0 || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, ACK_POLL_MS));
    }
    for (const peer of waiting) out[peer] = `pending: not read from the purge bus within ${timeoutMs}ms; it applies it when it reads on`;
    return out;
  }

  stats(): Record<string, unknown> {
    return { url: withoutPassword(this.deps.url), position: this.position ?? null, replayed: this.replayed, reachable: this.cmd.status === 'ready', ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reader.disconnect();
    this.cmd.disconnect();
    // A blocked read ends with the disconnect; never wait long for it.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop?.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2_000)))]);
    clearTimeout(timer);
  }
}
