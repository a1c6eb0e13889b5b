// A memory-tier entry as one compact record. Why: under a miss storm the tier holds
// tens of thousands of entries that nobody asks for again, and V8's full collections
// mark every object they hold. Kept as given, an entry was ~15 objects (its record,
// the metadata object, the headers object and each stored value, the directives and
// integrity strings, three heap numbers for its times, a body object); packed, it is
// this record (which is its own body too), one string holding the stored fields and
// directives, and the body's Buffer. Every number is a small integer (a Smi: no heap
// number): times in ms split in two, seconds tagged as whole or milli, a CRC-32
// integrity (the disk tier's for small bodies) in two halves.
//
// The metadata is rebuilt on the first look-up that hands the entry out (a hit), then
// kept: an entry that is hit costs what it did before, one that is not stays compact.
// Only metadata that round-trips exactly is packed (newEntryMeta's fields, no Vary,
// no slice or transform, plain string fields, numbers that encode losslessly, its
// bodySize the body's); any other is kept whole (HeldEntry), as before. Unpacked,
// the fields come in newEntryMeta's order (nothing reads metadata by field order). Purge matching and the tier's indexes read the
// record itself (Selectable: key, primaryKey, url, tags), so they rebuild nothing.

import { ENTRY_FORMAT } from '../../entry.js';
import type { HeaderMap } from '../../http/headers.js';
import { MemoryBody } from './memory-body.js';
import type { BanChecked, Selectable } from '../purge/purge-bans.js';
import type { EntryMeta, StoredEntry, VariantMeta } from '../types.js';

/**
 * The fields of metadata that is packed: those of cache/entry.ts newEntryMeta (without
 * `slice`), `integrity` possibly absent. Unpacked, they come in newEntryMeta's order.
 */
const PACKED_KEYS = new Set([
  'v', 'key', 'primaryKey', 'url', 'status', 'headers', 'varyNames', 'varyValues', 'requestTimeMs', 'responseTimeMs',
  'initialAgeS', 'freshnessLifetimeS', 'cacheControl', 'noCache', 'staleForbidden', 'staleWhileRevalidateS',
  'staleIfErrorS', 'bodySize', 'integrity', 'tags',
]);

const NO_CACHE = 1;
const STALE_FORBIDDEN = 2;
/** cacheControl is the stored cache-control field's value (it is, unless a targeted field took precedence). */
const CC_IS_FIELD = 4;
/** The metadata was replaced (replace()): integrity landing later is the opened metadata's, not this one's. */
const REPLACED = 8;
/** The metadata had no `integrity` field at all (not even undefined). */
const NO_INTEGRITY_FIELD = 16;
/** The integrity is a CRC-32 (store/integrity.ts checksumIntegrity), held as two 16-bit halves. */
const CRC32 = 32;
const CRC32_FORM = /^crc32-[0-9a-f]{8}$/;
const CRC32_PREFIX = 'crc32-';

/** Below V8's Smi limit with pointer compression too (2^30), so a field never holds a heap number. */
const SMI_LIMIT = 2 ** 30;
/** requestTimeMs = hi · 2^24 + lo. */
const TIME_SPLIT = 2 ** 24;
const SEP = '\n';
const NOT_PACKED = -1;

/** Tags of an untagged entry: one shared array for all of them (only read: the indexes iterate it). */
const NO_TAGS: string[] = Object.freeze([]) as unknown as string[];
/** What a packed entry's VariantMeta varies on: nothing (shared, frozen: Vary selection only reads them). */
const NO_NAMES: string[] = Object.freeze([]) as unknown as string[];
const NO_VALUES: Record<string, string> = Object.freeze({}) as Record<string, string>;

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/**
 * Seconds as a Smi: whole seconds as 2·s, a fraction with whole milliseconds (an age:
 * a response delay in ms / 1000) as 2·ms + 1. NOT_PACKED when it would not come back
 * the same number (negative, -0, finer than a millisecond, too large).
 */
function seconds(x: number): number {
  if (!(x >= 0) || Object.is(x, -0)) return NOT_PACKED;
  if (Number.isInteger(x)) return x < SMI_LIMIT / 2 ? x * 2 : NOT_PACKED;
  const ms = Math.round(x * 1000);
  return ms / 1000 === x && ms < SMI_LIMIT / 2 ? ms * 2 + 1 : NOT_PACKED;
}

function unseconds(s: number): number {
  return (s & 1) === 0 ? s / 2 : (s - 1) / 2 / 1000;
}

function smallInt(x: number): boolean {
  return Number.isInteger(x) && x > -SMI_LIMIT && x < SMI_LIMIT;
}

function plain(s: string): boolean {
  return s.indexOf(SEP) === -1;
}

/** The metadata's stored strings as one: directives (empty when the field's), then name, value pairs. Undefined: not packable. */
function block(meta: EntryMeta, ccIsField: boolean): string | undefined {
  const parts: string[] = [ccIsField ? '' : meta.cacheControl];
  if (!plain(parts[0]!)) return undefined;
  const h = meta.headers;
  for (const name in h) {
    const value = h[name];
    if (typeof value !== 'string' || !plain(name) || !plain(value)) return undefined;
    parts.push(name, value);
  }
  // join() gives one flat string (concatenation would keep a tree of strings alive).
  return parts.join(SEP);
}

/** Does the metadata have exactly the packed fields? 0: no; 1: all; 2: all but `integrity`. */
function packedFields(meta: EntryMeta): 0 | 1 | 2 {
  let n = 0;
  for (const k in meta) {
    if (!PACKED_KEYS.has(k)) return 0;
    n++;
  }
  if (n === PACKED_KEYS.size) return 1;
  return n === PACKED_KEYS.size - 1 && !('integrity' in meta) ? 2 : 0;
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

/** Would the metadata come back the same from a PackedEntry (and is its body size the body's)? */
function packable(meta: EntryMeta, size: number): boolean {
  if (meta.v !== ENTRY_FORMAT || packedFields(meta) === 0 || meta.varyNames.length !== 0 || !isEmpty(meta.varyValues)) return false;
  const { requestTimeMs: req, responseTimeMs: res } = meta;
  if (!Number.isSafeInteger(req) || req < 0 || !Number.isSafeInteger(res) || !smallInt(res - req)) return false;
  if (!smallInt(meta.status) || meta.bodySize !== size) return false;
  if (seconds(meta.initialAgeS) === NOT_PACKED || seconds(meta.freshnessLifetimeS) === NOT_PACKED) return false;
  if (seconds(meta.staleWhileRevalidateS) === NOT_PACKED || seconds(meta.staleIfErrorS) === NOT_PACKED) return false;
  if (meta.integrity !== undefined && typeof meta.integrity !== 'string') return false;
  return typeof meta.noCache === 'boolean' && typeof meta.staleForbidden === 'boolean' && typeof meta.cacheControl === 'string';
}

/** The tier's record of an entry: packed when its metadata packs, whole otherwise. */
export function heldEntry(meta: EntryMeta, body: Buffer | readonly Buffer[], countedBytes: number, bansChecked: number): HeldEntry {
  let size = 0;
  if (Buffer.isBuffer(body)) size = body.length;
  else for (const b of body) size += b.length;
  return packable(meta, size) ? new PackedEntry(meta, body, countedBytes, bansChecked) : new HeldEntry(meta, body, countedBytes, bansChecked, meta);
}

/**
 * An entry the memory tier holds with its metadata whole (as given): its body
 * (MemoryBody), what purges and indexes read (Selectable), the ban stamp.
 */
export class HeldEntry extends MemoryBody implements BanChecked, Selectable {
  key: string;
  primaryKey: string;
  url: string;
  tags: string[];
  bansChecked: number;
  /** What the tier counts for the entry against its budget (memory.ts put; remeasure() after new metadata). */
  countedBytes: number;
  /** The entry handed out: given at once when whole; built on the first look-up when packed. */
  protected entry: StoredEntry | undefined;
  protected flags = 0;

  constructor(meta: EntryMeta, body: Buffer | readonly Buffer[], countedBytes: number, bansChecked: number, whole: EntryMeta | undefined) {
    super(body);
    this.key = meta.key;
    this.primaryKey = meta.primaryKey;
    this.url = meta.url;
    this.tags = meta.tags;
    this.countedBytes = countedBytes;
    this.bansChecked = bansChecked;
    this.entry = whole && { meta: whole, body: this };
  }

  /** What purge selection and the indexes read: the record itself. */
  get meta(): Selectable {
    return this;
  }

  /** Is the metadata held packed (not yet handed out)? */
  get packed(): boolean {
    return this.entry === undefined;
  }

  /** The entry as the Store contract gives it. */
  stored(): StoredEntry {
    return this.entry!;
  }

  /**
   * The disk write of the metadata this entry was stored with landed and recorded the
   * body's integrity on it: what holding that metadata object shows.
   */
  integrityLanded(integrity: string | undefined): void {
    if ((this.flags & REPLACED) === 0) this.stored().meta.integrity = integrity;
  }

  /** What Vary selection reads (VariantMeta). */
  variant(): VariantMeta {
    return this.stored().meta;
  }

  /** New metadata for the same body (a 304's merge, a soft purge): kept whole, in the same entry object. */
  replace(meta: EntryMeta): void {
    this.key = meta.key;
    this.primaryKey = meta.primaryKey;
    this.url = meta.url;
    this.tags = meta.tags;
    this.flags |= REPLACED;
    if (this.entry) this.entry.meta = meta;
    else this.entry = { meta, body: this };
  }
}

/**
 * An entry whose metadata is packed until a look-up hands it out (made for metadata
 * that packable() accepts; one whose stored fields will not go into one string is held whole).
 */
class PackedEntry extends HeldEntry {
  private status = 0;
  private timeHi = 0;
  private timeLo = 0;
  private responseDelayMs = 0;
  private initialAge = 0;
  private freshness = 0;
  private swr = 0;
  private sie = 0;
  private strings = '';
  /** Set by the disk tier on the opened metadata when its write lands (tiered.ts): integrityLanded(). */
  private integrity: string | undefined = undefined;
  private crcHi = 0;
  private crcLo = 0;

  constructor(meta: EntryMeta, body: Buffer | readonly Buffer[], countedBytes: number, bansChecked: number) {
    super(meta, body, countedBytes, bansChecked, undefined);
    if (!this.pack(meta)) this.entry = { meta, body: this };
  }

  override stored(): StoredEntry {
    return (this.entry ??= { meta: this.unpack(), body: this });
  }

  override integrityLanded(integrity: string | undefined): void {
    if (this.entry) return super.integrityLanded(integrity);
    if ((this.flags & REPLACED) !== 0) return;
    this.flags &= ~NO_INTEGRITY_FIELD;
    this.holdIntegrity(integrity);
  }

  /** A packed entry varies on nothing: its VariantMeta is made without unpacking it. */
  override variant(): VariantMeta {
    if (this.entry) return this.entry.meta;
    return { key: this.key, primaryKey: this.primaryKey, varyNames: NO_NAMES, varyValues: NO_VALUES, responseTimeMs: this.timeHi * TIME_SPLIT + this.timeLo + this.responseDelayMs };
  }

  /** A CRC-32 as two Smis (no string per entry), any other integrity as given. */
  private holdIntegrity(integrity: string | undefined): void {
    if (integrity !== undefined && CRC32_FORM.test(integrity)) {
      const v = parseInt(integrity.slice(CRC32_PREFIX.length), 16);
      this.crcHi = (v >>> 16) | 0;
      this.crcLo = (v & 0xffff) | 0;
      this.integrity = undefined;
      this.flags |= CRC32;
    } else {
      this.integrity = integrity;
      this.flags &= ~CRC32;
    }
  }

  /** packable(meta) said yes; false when a stored field cannot go into the one string. */
  private pack(meta: EntryMeta): boolean {
    const ccIsField = meta.headers['cache-control'] === meta.cacheControl;
    const strings = block(meta, ccIsField);
    if (strings === undefined) return false;
    const req = meta.requestTimeMs;
    this.strings = strings;
    // `| 0`: a number computed from heap numbers is a heap number even when whole; a
    // field once given one holds every value boxed from then on, in every entry.
    this.status = meta.status | 0;
    this.flags = (meta.noCache ? NO_CACHE : 0) | (meta.staleForbidden ? STALE_FORBIDDEN : 0) | (ccIsField ? CC_IS_FIELD : 0) | ('integrity' in meta ? 0 : NO_INTEGRITY_FIELD);
    this.holdIntegrity(meta.integrity);
    const hi = Math.floor(req / TIME_SPLIT);
    this.timeHi = hi | 0;
    this.timeLo = (req - hi * TIME_SPLIT) | 0;
    this.responseDelayMs = (meta.responseTimeMs - req) | 0;
    this.initialAge = seconds(meta.initialAgeS) | 0;
    this.freshness = seconds(meta.freshnessLifetimeS) | 0;
    this.swr = seconds(meta.staleWhileRevalidateS) | 0;
    this.sie = seconds(meta.staleIfErrorS) | 0;
    if (meta.tags.length === 0) this.tags = NO_TAGS;
    return true;
  }

  private unpack(): EntryMeta {
    const parts = this.strings.split(SEP);
    const headers: HeaderMap = {};
    for (let i = 1; i < parts.length; i += 2) headers[parts[i]!] = parts[i + 1]!;
    const f = this.flags;
    const requestTimeMs = this.timeHi * TIME_SPLIT + this.timeLo;
    const meta: EntryMeta = {
      v: ENTRY_FORMAT,
      key: this.key,
      primaryKey: this.primaryKey,
      url: this.url,
      status: this.status,
      headers,
      varyNames: [],
      varyValues: {},
      requestTimeMs,
      responseTimeMs: requestTimeMs + this.responseDelayMs,
      initialAgeS: unseconds(this.initialAge),
      freshnessLifetimeS: unseconds(this.freshness),
      cacheControl: (f & CC_IS_FIELD) !== 0 ? headers['cache-control']! : parts[0]!,
      noCache: (f & NO_CACHE) !== 0,
      staleForbidden: (f & STALE_FORBIDDEN) !== 0,
      staleWhileRevalidateS: unseconds(this.swr),
      staleIfErrorS: unseconds(this.sie),
      bodySize: this.size,
      integrity: (f & CRC32) !== 0 ? CRC32_PREFIX + hex4(this.crcHi) + hex4(this.crcLo) : this.integrity,
      tags: this.tags === NO_TAGS ? [] : this.tags,
    };
    if ((f & NO_INTEGRITY_FIELD) === 0) return meta;
    const { integrity: _absent, ...without } = meta;
    return without;
  }
}
