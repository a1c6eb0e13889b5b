// Kept-alive HTTP/1.1 connections that bring no request. node:http closes an
// idle kept-alive connection after its keep-alive timeout, but that timer is the
// socket's idle timer, renewed by any byte; and the empty lines allowed before a
// request line (RFC 9112 §2.2) do not begin a message, so the header timeout never
// starts either. A client writing "\r\n" every few seconds held a connection for
// ever. Here a connection that owes no answer and has received no new request for
// the keep-alive timeout plus limits.requestHeadersTimeoutMs is reported (the
// listener answers 408 and closes it): by then node:http has either closed it,
// timed its started request out, or the client is sending nothing but empty lines.
// One sweep (./progress-sweep.ts), nothing armed per request.

import type { Duplex } from 'node:stream';
import { ProgressSweep } from './progress-sweep.js';

export interface KeepAliveIdleOptions {
  /** Read at every sweep: how long a connection may owe nothing and bring no request. */
  timeoutMs: () => number;
  /**
   * Requests received on the connection so far, or undefined while it owes an
   * answer (or is closing): the idle time is counted only while it is defined and
   * unchanged.
   */
  requestsWhileIdle: (connection: Duplex) => number | undefined;
  /** Called once for a connection idle past the timeout; the sweep then stops watching it. */
  onIdle: (connection: Duplex) => void;
}

export class KeepAliveIdleSweep {
  private readonly sweeper: ProgressSweep<Duplex>;

  constructor(opts: KeepAliveIdleOptions) {
    this.sweeper = new ProgressSweep<Duplex>({
      timeoutMs: opts.timeoutMs,
      progress: (c) => (c.destroyed ? undefined : opts.requestsWhileIdle(c)),
      onStalled: opts.onIdle,
    });
  }

  /** Watch a connection until it closes. */
  watch(connection: Duplex): void {
    this.sweeper.watch(connection);
    connection.once('close', () => this.sweeper.forget(connection));
  }
}
