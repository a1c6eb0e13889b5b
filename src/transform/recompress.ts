// Background recompression: a variant first made at the fast level (a client was
// waiting) is made again at the best level from the stored identity body and
// replaces it. One at a time, off the event loop (zlib's asynchronous streams run
// on the thread pool), through a bounded queue: when the queue is full the fast
// variant simply stays.
//
// Invariants: the swap is the store's commit, so a reader gets the fast bytes or
// the best bytes, never a mix (a client resuming from the store after falling
// behind checks the level: pipeline/resume-from-store.ts); a purge after the job
// began keeps its result out (the write carries the purge mark); a variant or
// source that changed meanwhile (new body, other level) is left alone. The best
// variant is made from the fast one's metadata as stored (read from disk when the
// disk tier keeps only its summary in RAM): a soft purge or refresh since stays.

import type { Logger } from 'pino';
import { isWhole, type EntryMeta, type VariantMeta } from '../entry.js';
import type { Stats } from '../observability/stats.js';
import type { Purgeable, Store } from '../store/types.js';
import { compressor } from './codings.js';

export interface RecompressDeps {
  store: Store & Purgeable;
  logger: Logger;
  stats: Stats;
  /** Jobs waiting at once; beyond it a job is dropped (the fast variant stays). */
  queueMax: number;
}

interface Job {
  /** The fast variant as committed. */
  variant: EntryMeta;
  /** Key of the identity entry it was made from. */
  sourceKey: string;
}

export class Recompressor {
  private readonly queue: Job[] = [];
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly deps: RecompressDeps) {}

  /** Jobs waiting or running. */
  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  enqueue(variant: EntryMeta, sourceKey: string): void {
    if (this.closed || this.queue.length >= this.deps.queueMax) {
      this.deps.stats.inc('recompressSkipped');
      return;
    }
    this.queue.push({ variant, sourceKey });
    this.running ??= this.drain();
  }

  private async drain(): Promise<void> {
    // Let the request that queued the job finish first.
    await new Promise<void>((r) => setImmediate(r));
    for (let job = this.queue.shift(); job && !this.closed; job = this.queue.shift()) {
      try {
        if (await this.run(job)) this.deps.stats.inc('recompressed');
        else this.deps.stats.inc('recompressSkipped');
      } catch (err) {
        this.deps.stats.inc('recompressSkipped');
        this.deps.logger.debug({ url: job.variant.url, err: (err as Error).message }, 'background recompression not stored');
      }
    }
    this.running = undefined;
  }

  /** The variant as listed now (whole or summarized), when it is still the fast one made from the same source. */
  private current(job: Job): VariantMeta | undefined {
    const m = this.deps.store.variants(job.variant.primaryKey).find((v) => v.key === job.variant.key);
    return m && m.transform?.level === 'fast' && m.responseTimeMs === job.variant.responseTimeMs ? m : undefined;
  }

  /** The fast variant's whole metadata as stored now (undefined: gone or changed meanwhile). */
  private async stored(job: Job): Promise<EntryMeta | undefined> {
    const listed = this.current(job);
    if (!listed || isWhole(listed)) return listed;
    const { store } = this.deps;
    const meta = store.readMeta ? await store.readMeta(listed.key) : (await store.get(listed.key))?.meta;
    return meta && meta.transform?.level === 'fast' && meta.responseTimeMs === job.variant.responseTimeMs ? meta : undefined;
  }

  private async run(job: Job): Promise<boolean> {
    const { store } = this.deps;
    const purgeMark = store.purgeMark();
    const fast = await this.stored(job);
    if (!fast) return false;
    const source = store.peek(job.sourceKey) ?? (await store.get(job.sourceKey));
    if (!source || source.body.size !== fast.transform!.sourceBytes || source.meta.headers['etag'] !== fast.headers['etag']) return false;
    const { integrity: _i, ...rest } = fast;
    const best: EntryMeta = { ...rest, bodySize: -1, transform: { ...fast.transform!, level: 'best' } };
    const writer = store.open(best, { purgeMark });
    const z = compressor(fast.transform!.coding, 'best', source.body.size);
    const input = source.body.stream();
    input.on('error', (err: Error) => z.destroy(err));
    input.pipe(z);
    try {
      for await (const chunk of z) await writer.write(chunk as Buffer);
      // Changed while it ran (refreshed, replaced, purged): the newer state wins.
      if (this.closed || !this.current(job)) {
        writer.abort();
        return false;
      }
      await writer.commit();
      return true;
    } catch (err) {
      writer.abort(err as Error);
      input.destroy();
      throw err;
    }
  }

  /** Stop taking jobs; resolves when the one running is over. */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    await this.running;
  }
}
