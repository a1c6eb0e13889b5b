// At most one warning per kind per interval: a storm of the same failure (shed
// writes, I/O errors) is one log line now and then, with its running count in the
// fields, not one line per request.

import type { Logger } from 'pino';

export class WarnLimiter {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  warn(kind: string, fields: object, msg: string): void {
    const now = Date.now();
    if (now - (this.last.get(kind) ?? 0) < this.intervalMs) return;
    this.last.set(kind, now);
    this.logger.warn(fields, msg);
  }
}
