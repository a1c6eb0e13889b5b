// The messages between the disk tier and its writer thread (writer-thread.ts).

/** A record line without what the writer adds ("i" and the place): `head` + those + `tail` (index-log.ts). */
export interface LineParts {
  head: string;
  tail: string;
}

/**
 * Write a whole body and append its record line. `segment`: appended to the open
 * segment file, else a blob file of its own. The body is `data`, or, when the tier
 * copied it into the shared ring (body-ring.ts), the `bytes` at `ringAt` there.
 */
export interface PutOp { t: 'put'; seq: number; data?: Uint8Array; ringAt?: number; bytes: number; line: LineParts; segment: boolean }
/** Move a temp file the tier wrote and hashed itself into place as its blob, and append its record line. */
export interface AdoptOp { t: 'adopt'; seq: number; tmp: string; integrity: string; size: number; line: LineParts }
/**
 * Append a record's line again with its body at another place (a relocation): the
 * line is read back from the index, `gen` saying which file its offset is in.
 */
export interface RelineOp { t: 'reline'; gen: number; off: number; bytes: number; at: SegmentLocation }
/** Append a record line (an update or a removal). */
export interface LineOp { t: 'line'; text: string }
/** Remove a blob no record refers to (skipped if a write of it ran since the tier's last count). */
export interface UnlinkOp { t: 'unlink'; integrity: string }
/**
 * Compaction steps; `sync` makes every line so far durable (fsync); `close` syncs too.
 * `compact-end` answers ok once the new file is in place (`gen`: the writer's generation
 * now), with a `warning` for what failed after that (the directory's fsync).
 */
export interface CompactOp { t: 'compact-begin' | 'compact-end' | 'sync' | 'close' }
/**
 * Lines of a compaction: written out (`text`), or copied from the index (`off`, `bytes` in
 * file `gen`) with the body's place set to `at`. The result's `offs`: where each landed in
 * the new file, and where the next line goes.
 */
export interface CompactChunkOp { t: 'compact-chunk'; gen: number; items: CompactItem[] }
export type CompactItem = { text: string } | { off: number; bytes: number; at?: SegmentLocation };
/** Copy bodies out of a segment into the open one (the source is removed later, once nothing refers to it). */
export interface RelocateOp { t: 'relocate'; from: number; items: { off: number; size: number }[] }
/** Remove a segment file no record refers to (never the open one). */
export interface UnlinkSegmentOp { t: 'unlink-segment'; segment: number }
export type Op = PutOp | AdoptOp | LineOp | RelineOp | UnlinkOp | CompactOp | CompactChunkOp | RelocateOp | UnlinkSegmentOp;

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

/** Where a line landed: its offset in the index file of generation `gen` (and in the file being compacted, `newOff`). */
export interface LineLanded {
  lineOff?: number;
  lineBytes?: number;
  newOff?: number;
  gen?: number;
}

export type OpResult =
  | ({ ok: true; integrity?: string; skipped?: boolean; at?: SegmentLocation; moved?: SegmentLocation[]; offs?: number[]; warning?: string } & LineLanded)
  | {
      ok: false;
      code: string;
      message: string;
      /**
       * What of the body is on disk although the write failed (its record line could not be
       * appended): the blob moved into place (`integrity`), or the segment place (`at`).
       */
      integrity?: string;
      at?: SegmentLocation;
    };

export interface Reply {
  results: OpResult[];
  /** The thread's V8 heap, committed, after the batch: RAM beside --memory-size (/stats tiers.disk.writerHeapBytes). */
  heapBytes: number;
}
