// The integrity strings of stored bodies, and their checks.
//
// A blob file is content-addressed: its integrity is SHA-256 in cacache's SRI form
// (`sha256-<base64>`), and that digest names the file (identical bodies share it).
// A body in a segment file is addressed by its place, never by its content: its
// integrity only has to catch damage (a flipped byte, a torn or short write), which
// a CRC-32 does (`crc32-<8 hex digits>`) at a third of SHA-256's CPU — the writer
// hashed every stored miss with SHA-256: ~10 µs of a 16 KiB miss, ~150 µs of a
// 256 KiB one, on the same core as the request path. Integrity strings of either
// kind are checked by their prefix (segment bodies written before keep their SHA-256).

import { createHash, hash } from 'node:crypto';
import { crc32 } from 'node:zlib';

const SHA256 = 'sha256-';
const CRC32 = 'crc32-';

/**
 * sha256-<base64> of a body, in cacache's SRI form. The one-shot `hash()` (Node >=
 * 20.12), not createHash: no Hash object with a native handle per body to finalise.
 */
export function sha256Integrity(data: Uint8Array): string {
  return SHA256 + hash('sha256', data, 'base64');
}

/** crc32-<8 hex digits> of a body: the integrity of a body stored by place (a segment file). */
export function checksumIntegrity(data: Uint8Array): string {
  return crc32Form(crc32(data));
}

function crc32Form(value: number): string {
  return CRC32 + (value >>> 0).toString(16).padStart(8, '0');
}

/** An incremental check of a body read in chunks against its integrity. */
export interface IntegrityCheck {
  update(chunk: Uint8Array): void;
  /** Call once, after the last chunk. */
  matches(): boolean;
}

/** The check for `integrity`; undefined for a kind Strata does not know (nothing to check against). */
export function integrityCheck(integrity: string): IntegrityCheck | undefined {
  if (integrity.startsWith(CRC32)) {
    let value = 0;
    return {
      update: (chunk) => {
        value = crc32(chunk, value);
      },
      matches: () => crc32Form(value) === integrity,
    };
  }
  if (integrity.startsWith(SHA256)) {
    const hasher = createHash('sha256');
    const expected = integrity.slice(SHA256.length);
    return {
      update: (chunk) => {
        hasher.update(chunk);
      },
      matches: () => hasher.digest('base64') === expected,
    };
  }
  return undefined;
}

/** Does a whole body match its integrity? An integrity of an unknown kind never matches. */
export function integrityMatches(data: Uint8Array, integrity: string): boolean {
  if (integrity.startsWith(CRC32)) return checksumIntegrity(data) === integrity;
  if (integrity.startsWith(SHA256)) return sha256Integrity(data) === integrity;
  return false;
}
