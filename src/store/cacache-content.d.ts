// Types for the two content-only modules of cacache 20 that the disk tier uses.
// Strata writes blobs without touching cacache's key index, then inserts the
// index line itself, so a key's index writes can be serialised (see disk.ts).
declare module 'cacache/lib/content/write.js' {
  import type { EventEmitter } from 'node:events';
  interface ContentWriteStream extends EventEmitter {
    write(chunk: Buffer): boolean;
    end(): void;
    destroy?(err?: Error): void;
  }
  interface WriteOpts {
    algorithms?: string[];
    size?: number;
  }
  function write(cache: string, data: Buffer, opts?: WriteOpts): Promise<{ integrity: unknown; size: number }>;
  namespace write {
    function stream(cache: string, opts?: WriteOpts): ContentWriteStream;
  }
  export default write;
}
declare module 'cacache/lib/content/path.js' {
  function contentPath(cache: string, integrity: string): string;
  export default contentPath;
}
