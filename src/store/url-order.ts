// A tier's entries in URL order, so that the entries under a prefix are one
// contiguous run found by binary search: a prefix purge counts 100,000 entries
// in microseconds instead of testing every entry of the tier (purge-match.ts).
// Each tier keeps one beside its variant and tag indexes and updates them together.
//
// Layout: sorted blocks of at most BLOCK (url, key) pairs, ordered by URL, then
// key (the variants of one URL); one URL per key. An insert binary-searches the
// blocks and shifts one short array; a removal finds its block through a map by
// key, without comparing URLs (a purge's walk removes 100,000 entries, and each
// comparison of two long URLs costs ~60 ns); counting a run adds up block lengths.
// The disk tier, with millions of entries, spares that map (~40 bytes an entry):
// its removals name the URL and binary-search. It also orders by "GET " + URL, which
// is the key itself for most of its entries, so an entry costs no URL string; `mark`
// is that constant before every URL, added to the prefixes asked for.
//
// The binary search over blocks reads a separator per block from two flat arrays, not
// the block's own last pair (three dependent loads, each a cache miss once the order
// holds 100,000s of URLs: half the cost of an insert). A separator is the pair that
// was last in its block when last set: every pair of the block is at most it, every
// pair of the next block above it. A removal leaves it as it is (still a bound), so a
// separator may hold a removed URL's string: one per block at most (~2 bytes an entry).
//
// Each separator also has a number (sepFps): the FP_CHARS characters after the prefix
// every URL in the order shares. Numbers compare as their URLs do, or tie; the search
// compares numbers, in one flat array, and reads a separator's string only on a tie. At
// a million URLs, the search over ~31,000 separators by string (a cache miss each, the
// URLs sharing ~40 characters) took 1.9–3.7 µs, by number 0.2–0.4 µs (bench/RESULTS.md).
// A URL added without the shared prefix shortens it, and every number is made again:
// once per new authority or path root, O(blocks).

import { pathStart } from './purge/purge-match.js';

const BLOCK = 64;
/** Characters of a URL in its separator number: 8 bits each, 48 bits in all, exact in a double. */
const FP_CHARS = 6;

interface Block {
  urls: string[];
  keys: string[];
}

/** Where a pair is, or would be inserted. */
interface Position {
  block: number;
  at: number;
}

/** Array.splice without the array of removed items it allocates (a walk removes 100,000). */
function insertAt<T>(a: T[], i: number, item: T): void {
  a.push(item);
  for (let j = a.length - 1; j > i; j--) a[j] = a[j - 1]!;
  a[i] = item;
}

function removeAt<T>(a: T[], i: number): void {
  for (let j = i; j < a.length - 1; j++) a[j] = a[j + 1]!;
  a.pop();
}

export class UrlOrder {
  private blocks: Block[] = [];
  /** Each block's separator (URL, then key), by block index. */
  private sepUrls: string[] = [];
  private sepKeys: string[] = [];
  /** Each separator's number (fingerprint()), by block index. */
  private sepFps: number[] = [];
  /** The prefix every URL added so far shares (undefined before the first). */
  private prefix: string | undefined;
  private readonly blockOf: Map<string, Block> | undefined;
  private readonly mark: string;
  private count = 0;

  constructor(opts: { mark?: string; byKey?: boolean } = {}) {
    this.mark = opts.mark ?? '';
    this.blockOf = opts.byKey === false ? undefined : new Map();
  }

  get size(): number {
    return this.count;
  }

  /**
   * Add the key under its URL (with `mark` before it). A key already present under
   * another URL moves, when the order keeps its map by key; otherwise the caller removes it first.
   */
  add(url: string, key: string): void {
    const held = this.blockOf?.get(key);
    if (held) {
      if (held.urls[held.keys.indexOf(key)] === url) return;
      this.remove(key);
    }
    const f = this.cover(url);
    if (this.blocks.length === 0) {
      const b = { urls: [url], keys: [key] };
      this.blocks.push(b);
      this.sepUrls.push(url);
      this.sepKeys.push(key);
      this.sepFps.push(f);
      this.blockOf?.set(key, b);
      this.count = 1;
      return;
    }
    const bi = this.blockFor(url, key, f);
    const b = this.blocks[bi]!;
    const at = this.indexIn(b, url, key);
    if (!this.blockOf && b.keys[at] === key && b.urls[at] === url) return;
    insertAt(b.urls, at, url);
    insertAt(b.keys, at, key);
    this.blockOf?.set(key, b);
    this.count++;
    // Only the last block takes pairs above its separator (blockFor).
    if (bi === this.blocks.length - 1 && at === b.urls.length - 1) {
      this.sepUrls[bi] = url;
      this.sepKeys[bi] = key;
      this.sepFps[bi] = f;
    }
    if (b.urls.length > BLOCK) {
      const half = b.urls.length >> 1;
      const moved = { urls: b.urls.splice(half), keys: b.keys.splice(half) };
      if (this.blockOf) for (const k of moved.keys) this.blockOf.set(k, moved);
      this.blocks.splice(bi + 1, 0, moved);
      // The moved half keeps the separator; the first half's is its last pair now.
      this.sepUrls.splice(bi, 0, b.urls[half - 1]!);
      this.sepKeys.splice(bi, 0, b.keys[half - 1]!);
      this.sepFps.splice(bi, 0, this.fingerprint(b.urls[half - 1]!));
    }
  }

  /**
   * The shared prefix shortened, when `url` does not start with it, to what they share (the
   * numbers made again); `url`'s number.
   */
  private cover(url: string): number {
    const p = this.prefix;
    if (p === undefined) this.prefix = url;
    else if (!url.startsWith(p)) {
      let n = 0;
      while (n < p.length && p.charCodeAt(n) === url.charCodeAt(n)) n++;
      this.prefix = p.slice(0, n);
      for (let i = 0; i < this.sepUrls.length; i++) this.sepFps[i] = this.fingerprint(this.sepUrls[i]!);
    }
    return this.fingerprint(url);
  }

  /**
   * The FP_CHARS characters of `url` after the shared prefix as one number, 8 bits each. A
   * character of 2–254 is itself; 0 and 1 are 1, 255 and above 255, the end 0, and each of
   * these ends the number (0s after it): it cannot be told from its neighbour, so what
   * follows must not decide. So for two URLs with the prefix, a < b gives
   * fingerprint(a) <= fingerprint(b), and a smaller number means a smaller URL.
   */
  private fingerprint(url: string): number {
    const from = this.prefix!.length;
    let n = 0;
    let ended = false;
    for (let i = from; i < from + FP_CHARS; i++) {
      let digit = 0;
      if (!ended) {
        const c = url.charCodeAt(i); // NaN past the end
        ended = !(c >= 2 && c <= 254);
        digit = ended ? (c >= 255 ? 255 : c >= 0 ? 1 : 0) : c;
      }
      n = n * 256 + digit;
    }
    return n;
  }

  /** Remove the key (`url`: as added, needed when the order keeps no map by key). */
  remove(key: string, url?: string): void {
    let b: Block | undefined;
    let at: number;
    /** The block's index, when the search found it (the map by key does not say). */
    let bi: number | undefined;
    if (this.blockOf) {
      b = this.blockOf.get(key);
      if (!b) return;
      at = b.keys.indexOf(key);
      this.blockOf.delete(key);
    } else {
      if (url === undefined || this.blocks.length === 0) return;
      // A URL without the shared prefix was never added (a removal naming another): by string only.
      bi = this.blockFor(url, key, this.prefix !== undefined && url.startsWith(this.prefix) ? this.fingerprint(url) : -1);
      b = this.blocks[bi]!;
      at = this.indexIn(b, url, key);
      if (b.keys[at] !== key || b.urls[at] !== url) return;
    }
    removeAt(b.urls, at);
    removeAt(b.keys, at);
    this.count--;
    if (b.urls.length >= BLOCK >> 2) return;
    bi ??= this.blocks.indexOf(b);
    if (b.urls.length === 0) this.dropBlock(bi);
    else if (bi + 1 < this.blocks.length && b.urls.length + this.blocks[bi + 1]!.urls.length <= BLOCK) {
      // Many removals must not leave thousands of tiny blocks for counting to add up.
      const next = this.blocks[bi + 1]!;
      if (this.blockOf) for (const k of next.keys) this.blockOf.set(k, b);
      b.urls.push(...next.urls);
      b.keys.push(...next.keys);
      // The merged block ends where the next one did: its separator stays, this one's goes.
      this.dropBlock(bi);
      this.blocks[bi] = b;
    }
  }

  /** Pairs whose URL starts with each of `prefixes` (which must not overlap). */
  countRuns(prefixes: readonly string[]): number {
    let n = 0;
    for (const p of prefixes) n += this.distance(this.lowerBound(p), this.runEnd(p));
    return n;
  }

  /** Keys whose URL starts with one of `prefixes`, copied: the order may change while the caller works through them. */
  keysIn(prefixes: readonly string[]): string[] {
    const out: string[] = [];
    for (const p of prefixes) {
      const from = this.lowerBound(p);
      const to = this.runEnd(p);
      for (let bi = from.block; bi <= to.block && bi < this.blocks.length; bi++) {
        const keys = this.blocks[bi]!.keys;
        const end = bi === to.block ? to.at : keys.length;
        for (let i = bi === from.block ? from.at : 0; i < end; i++) out.push(keys[i]!);
      }
    }
    return out;
  }

  /**
   * The URL prefixes a selector's URL and path prefixes come to in this order:
   * each path prefix under every authority (scheme://host) stored, as a path prefix
   * matches under any authority; prefixes within another one dropped, so that the
   * runs never overlap and nothing is counted twice. Undefined when a path prefix
   * does not start with "/" (it could reach into the authority: callers scan).
   */
  prefixRuns(urlPrefixes: readonly string[], pathPrefixes: readonly string[]): string[] | undefined {
    if (pathPrefixes.some((p) => !p.startsWith('/'))) return undefined;
    const all = urlPrefixes.map((p) => this.mark + p);
    if (pathPrefixes.length) for (const a of this.authorities()) for (const p of pathPrefixes) all.push(a + p);
    all.sort();
    const runs: string[] = [];
    for (const p of all) if (runs.length === 0 || !p.startsWith(runs[runs.length - 1]!)) runs.push(p);
    return runs;
  }

  /**
   * Each authority of the stored URLs once. Every URL with a path under authority A
   * starts with A + "/", and those sort before A + "0": one binary search skips them all.
   */
  private *authorities(): Generator<string> {
    const seen = new Set<string>();
    let pos: Position = { block: 0, at: 0 };
    while (pos.block < this.blocks.length) {
      const url = this.blocks[pos.block]!.urls[pos.at]!;
      const at = pathStart(url);
      const a = url.slice(0, at);
      if (!seen.has(a)) {
        seen.add(a);
        yield a;
      }
      pos = at === url.length ? this.next(pos) : this.lowerBound(a + '0');
    }
  }

  /** Remove block `bi` and its separator. */
  private dropBlock(bi: number): void {
    this.blocks.splice(bi, 1);
    this.sepUrls.splice(bi, 1);
    this.sepKeys.splice(bi, 1);
    this.sepFps.splice(bi, 1);
  }

  private next(p: Position): Position {
    return p.at + 1 < this.blocks[p.block]!.urls.length ? { block: p.block, at: p.at + 1 } : { block: p.block + 1, at: 0 };
  }

  /** Pairs from `a` up to (not including) `b`. */
  private distance(a: Position, b: Position): number {
    if (a.block === b.block) return b.at - a.at;
    let n = this.blocks[a.block]!.urls.length - a.at + b.at;
    for (let i = a.block + 1; i < b.block; i++) n += this.blocks[i]!.urls.length;
    return n;
  }

  /** The first position whose URL passes `beyond` (a predicate false, then true, along the order). */
  private search(beyond: (url: string) => boolean): Position {
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (beyond(this.sepUrls[mid]!)) hi = mid;
      else lo = mid + 1;
    }
    if (lo === this.blocks.length) return { block: lo, at: 0 };
    const urls = this.blocks[lo]!.urls;
    let a = 0;
    let b = urls.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (beyond(urls[mid]!)) b = mid;
      else a = mid + 1;
    }
    // Past the block's pairs (its separator passes, none of them does): the next block's first.
    return a === urls.length ? { block: lo + 1, at: 0 } : { block: lo, at: a };
  }

  /** First position whose URL is ≥ s. */
  private lowerBound(s: string): Position {
    return this.search((u) => u >= s);
  }

  /** First position after the run of URLs starting with p (URLs with a prefix sort together, right after it). */
  private runEnd(p: string): Position {
    return this.search((u) => u > p && !u.startsWith(p));
  }

  /**
   * The block a pair belongs in: the first whose last pair is not before it, else the last block.
   * `f`: the URL's number (fingerprint()), or -1 to compare strings only.
   */
  private blockFor(url: string, key: string, f: number): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const sf = f < 0 ? -1 : this.sepFps[mid]!;
      if (f < sf) hi = mid;
      else if (f > sf) lo = mid + 1;
      else {
        const u = this.sepUrls[mid]!;
        if (url < u || (url === u && key <= this.sepKeys[mid]!)) hi = mid;
        else lo = mid + 1;
      }
    }
    return lo;
  }

  /** Index of the first pair in `b` not before (url, key). */
  private indexIn(b: Block, url: string, key: string): number {
    let lo = 0;
    let hi = b.urls.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const u = b.urls[mid]!;
      if (u < url || (u === url && b.keys[mid]! < key)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
