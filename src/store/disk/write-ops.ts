// The messages between the disk tier and its writer thread (writer-thread.ts).

/** Write a whole body as a blob and append its record line (`head`: the line without "i" and "s"). */
export interface PutOp { t: 'put'; seq: number; data: Uint8Array; head: string }
/** Move a temp file the tier wrote and hashed itself into place as its blob, and append its record line. */
export interface AdoptOp { t: 'adopt'; seq: number; tmp: string; integrity: string; size: number; head: string }
/** Append a record line (an update or a removal). */
export interface LineOp { t: 'line'; text: string }
/** Remove a blob no record refers to (skipped if a write of it ran since the tier's last count). */
export interface UnlinkOp { t: 'unlink'; integrity: string }
/** Compaction steps; `sync` makes every line so far durable (fsync); `close` syncs too. */
export interface CompactOp { t: 'compact-begin' | 'compact-end' | 'sync' | 'close' }
export interface CompactChunkOp { t: 'compact-chunk'; text: string }
export type Op = PutOp | AdoptOp | LineOp | UnlinkOp | CompactOp | CompactChunkOp;

export interface Batch {
  /** The newest put/adopt sequence number whose result the tier has taken in. */
  acked: number;
  ops: Op[];
}

export type OpResult =
  | { ok: true; integrity?: string; skipped?: boolean }
  | { ok: false; code: string; message: string };

export interface Reply {
  results: OpResult[];
}
