// The node's pino logger. JSON lines to stdout (or a given destination); the
// request path logs one access line per request through it.

import pino, { type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from '../config/types.js';
import { byteLogDestination, type LogDrops } from './log-destination.js';

export type { Logger };

/**
 * `droppedLines`: told of log lines the output had no room for (a stalled pipe:
 * log-destination.ts MAX_HELD_BYTES); once it drains, the logger says how many.
 */
export function createLogger(level: LogLevel, nodeId: string, destination?: DestinationStream, droppedLines?: (lines: number) => void): Logger {
  // Asynchronous, unbuffered: lines leave as soon as the previous write completed, so
  // a quiet node's log is never held back (the access log batches its own lines).
  const drops: LogDrops = {
    ...(droppedLines ? { dropped: droppedLines } : {}),
    drained: (lines, bytes) => logger.warn({ droppedLines: lines, droppedBytes: bytes }, 'log output drained; lines were dropped while it was stalled'),
  };
  const dest = destination ?? byteLogDestination(1, drops);
  // Epoch-millisecond timestamps: formatting an ISO date on every access line costs
  // a measurable share of a cache hit.
  const logger = pino({ level, base: { node: nodeId } }, dest);
  return logger;
}
