// HTTP/1.1 pipelining, bounded per connection. node:http parses every request a
// client pipelines on a connection and emits each at once, while their answers
// wait their turn for the socket (it stops reading only when answers already
// written pile up): a client writing 10,000 GETs for cold URLs down one
// connection made the node start 10,000 origin fetches and hold their bodies.
// nginx handles a connection's pipelined requests one at a time. Here at most
// MAX_IN_PROGRESS requests of one connection are handled at once; later ones
// wait, parsed but with nothing started for them, and past MAX_WAITING of those
// the socket is not read until they are down to half: what waits is bounded by
// that and by what one read brought in.
//
// Why reading is not paused at once: a paused socket does not see its client
// close (no read, no EOF), so a client gone while its requests wait would be
// noticed only once they had been worked through. Up to MAX_WAITING ahead, the
// close is seen at once; beyond (a client flooding), only once the waiting ones
// are down to half, eight at a time: the work it can leave behind is bounded by
// what it sent, never multiplied.
//
// Answers still waiting for the socket when the client closes it are never told
// by node:http (it closes only the answer on the socket): their work ran on and
// they were never logged. They are closed here as an abandoned request's answer
// is (its origin fetch cancelled, pipeline/fetch-interest.ts; its access line
// "aborted"). Requests not started yet are dropped: no work was done for them.
//
// Reading is paused with node:http's own flag (socket._paused, as its back-pressure
// does): reading a request's body resumes the socket unless that flag is set.
// A request whose first bytes came with the read that filled the queue waits
// with its headers incomplete; should the node take longer than
// limits.requestHeadersTimeoutMs to work the queue down, node:http times it out
// (408 after the answers owed, connection closed), as it would under its own
// back-pressure pause.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Requests of one HTTP/1.1 connection handled at once. Not a setting: browsers do
 * not pipeline, and what pipelines (tools, replays, abusers) gains nothing beyond
 * a few in flight, since the answers go out one after another anyway; 8 keeps a
 * pipelining client's misses overlapping while one connection can start no more
 * origin work than 8 separate clients.
 */
export const MAX_IN_PROGRESS = 8;

/** Requests of one connection parsed and waiting to start before its socket stops being read (see above). */
export const MAX_WAITING = 64;

/** node:http's fields on a connection it serves (its own back-pressure uses them). */
type ServedSocket = Duplex & { _paused?: boolean; parser?: { resume(): void } | null };

export class PipelineWindow {
  private running = 0;
  /**
   * Parsed, not started, in order (a Map keeps insertion order). Keyed by response: a
   * settle finds out in one lookup whether its response was waiting or running.
   */
  private readonly waiting = new Map<ServerResponse, IncomingMessage>();
  /** Started while an earlier answer held the socket: node:http will not close them if the client goes. */
  private offSocket: Set<ServerResponse> | undefined;
  private gone = false;
  /** Reading paused here (not by node:http's own back-pressure, which resumes on 'drain'). */
  private paused = false;

  constructor(
    private readonly socket: Duplex,
    private readonly handler: (req: IncomingMessage, res: ServerResponse) => void,
  ) {}

  /**
   * Responses admitted and not yet settled (in progress or waiting): what the
   * connection still owes, in order, before anything else may be written on it.
   */
  get owed(): number {
    return this.running + this.waiting.size;
  }

  /** A request parsed on the connection: handled now, or once the window has room. */
  admit(req: IncomingMessage, res: ServerResponse): void {
    if (this.running < MAX_IN_PROGRESS && this.waiting.size === 0) {
      this.start(req, res);
      return;
    }
    this.waiting.set(res, req);
    const s = this.socket as ServedSocket;
    if (this.waiting.size > MAX_WAITING && s._paused !== true) {
      this.paused = true;
      s._paused = true;
      s.pause();
    }
  }

  /** `res` closed: one fewer in progress, and the next waiting ones start. */
  settled(res: ServerResponse): void {
    // Closed before it started (its connection died): it held no slot.
    if (this.waiting.delete(res)) return;
    this.running--;
    this.offSocket?.delete(res);
    if (this.gone) return;
    for (const [next, req] of this.waiting) {
      if (this.running >= MAX_IN_PROGRESS) break;
      this.waiting.delete(next);
      this.start(req, next);
    }
    if (this.waiting.size <= MAX_WAITING / 2) this.resumeReading();
  }

  /**
   * The connection closed: answers started but not yet on the socket are closed
   * (their work cancelled, their access lines written). Returns how many were, and
   * how many requests were dropped before they started.
   */
  closed(): { dropped: number; abandoned: number } {
    this.gone = true;
    const dropped = this.waiting.size;
    this.waiting.clear();
    let abandoned = 0;
    if (this.offSocket) {
      for (const res of [...this.offSocket]) {
        // On the socket, or done with it: node:http closes it.
        if (res.socket !== null || res.writableFinished) continue;
        abandoned++;
        if (!res.destroyed) res.destroy();
        res.emit('close');
      }
    }
    return { dropped, abandoned };
  }

  private start(req: IncomingMessage, res: ServerResponse): void {
    this.running++;
    if (res.socket === null) (this.offSocket ??= new Set()).add(res);
    this.handler(req, res);
  }

  private resumeReading(): void {
    const s = this.socket as ServedSocket;
    if (!this.paused || s.destroyed) return;
    this.paused = false;
    if (s._paused !== true) return;
    s._paused = false;
    s.parser?.resume();
    s.resume();
  }
}
