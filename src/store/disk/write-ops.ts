// The messages between the disk tier and its writer thread (writer-thread.ts).

/**
 * Write a whole body and append its record line (`head`: the line without "i", "s" and
 * the location). `segment`: appended to the open segment file, else a blob file of its own.
 */
export interface PutOp { t: 'put'; seq: number; data: Uint8Array; head: string; segment: boolean }
/** Move a temp file the tier wrote and hashed itself into place as its blob, and append its record line. */
export interface AdoptOp { t: 'adopt'; seq: number; tmp: string; integrity: string; size: number; head: string }
/** Append a record line (an update or a removal). */
export interface LineOp { t: 'line'; text: string }
/** Remove a blob no record refers to (skipped if a write of it ran since the tier's last count). */
export interface UnlinkOp { t: 'unlink'; integrity: string }
/** Compaction steps; `sync` makes every line so far durable (fsync); `close` syncs too. */
export interface CompactOp { t: 'compact-begin' | 'compact-end' | 'sync' | 'close' }
export interface CompactChunkOp { t: 'compact-chunk'; text: string }
/** Copy bodies out of a segment into the open one (the source is removed later, once nothing refers to it). */
export interface RelocateOp { t: 'relocate'; from: number; items: { off: number; size: number }[] }
/** Remove a segment file no record refers to (never the open one). */
export interface UnlinkSegmentOp { t: 'unlink-segment'; segment: number }
export type Op = PutOp | AdoptOp | LineOp | UnlinkOp | CompactOp | CompactChunkOp | RelocateOp | UnlinkSegmentOp;

/** Where a body lives in a segment file. */
export interface SegmentLocation {
  segment: number;
  off: number;
}

export interface Batch {
  /** The newest put/adopt sequence number whose result the tier has taken in. */
  acked: number;
  ops: Op[];
}

export type OpResult =
  | { ok: true; integrity?: string; skipped?: boolean; at?: SegmentLocation; moved?: SegmentLocation[] }
  | { ok: false; code: string; message: string };

export interface Reply {
  results: OpResult[];
}
