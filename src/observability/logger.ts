// The node's pino logger. JSON lines to stdout (or a given destination); the
// request path logs one access line per request through it.

import pino, { type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from '../config/types.js';
import { byteLogDestination } from './log-destination.js';

export type { Logger };

export function createLogger(level: LogLevel, nodeId: string, destination?: DestinationStream): Logger {
  // Asynchronous, unbuffered: lines leave as soon as the previous write completed, so
  // a quiet node's log is never held back (the access log batches its own lines).
  const dest = destination ?? byteLogDestination(1);
  // Epoch-millisecond timestamps: formatting an ISO date on every access line costs
  // a measurable share of a cache hit.
  return pino({ level, base: { node: nodeId } }, dest);
}
