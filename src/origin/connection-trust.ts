// Late bytes on a kept-alive origin connection (issue 14 item 7). HTTP/1.1 pairs
// responses with requests by order alone: when an origin sends a complete
// response and then, on the same connection, bytes nobody asked for (a late
// second response), those bytes are
// - dropped with the connection by undici when they arrive while the connection is
//   idle ("bad response" SocketError), or
// - taken as the response to the next request when it was already sent on that
//   connection — no HTTP/1.1 client can tell them apart at that moment. The real
//   answer to that request then arrives with no request waiting, and undici drops
//   the connection ("bad response").
//
// So the drop is the proof: every response that ended on that connection shortly
// before it is suspect, and whoever stored one is told to remove it. The tracker
// knows the connection of each request through the Pool's client factory: each
// undici Client carries at most one connection at a time, with one request in
// flight (no pipelining).

import { Client, errors as undiciErrors, type Dispatcher } from 'undici';

/** Responses that ended this long before the drop are suspect. */
const SUSPECT_WINDOW_MS = 5_000;
/** At most this many recent responses are remembered per connection. */
const MAX_REMEMBERED = 8;

const TRACKED = Symbol('strata.connection-trust');

interface Tracked {
  client?: Client;
  /** Dispatched to a connection that had carried a request before (a kept-alive one). */
  reused?: boolean;
  /** Called as the Pool hands the request to a Client (it leaves the Pool's queue), with its options. */
  onDispatch?: (opts: Dispatcher.DispatchOptions) => void;
  endedAtMs?: number;
  callbacks: (() => void)[];
}

type TaggedOptions = Dispatcher.DispatchOptions & { [TRACKED]?: Tracked };

/** An error that says the origin sent bytes that answer no request. */
export function unsolicitedBytes(err: unknown): boolean {
  if (err instanceof undiciErrors.SocketError) return err.message === 'bad response';
  return err instanceof undiciErrors.HTTPParserError;
}

export class ConnectionTrust {
  private readonly recent = new WeakMap<Client, Tracked[]>();
  /** Clients given a request since their connection was last lost (or never made). */
  private readonly carried = new WeakSet<Client>();
  /** Responses distrusted since start. */
  distrusted = 0;

  constructor(private readonly now: () => number) {}

  /** The Pool's `factory`: a Client that records which requests it carries. */
  readonly factory = (origin: URL | string, opts: object): Dispatcher => {
    const client = new Client(origin, opts as Client.Options);
    const dispatch = client.dispatch.bind(client);
    client.dispatch = (o: TaggedOptions, handler) => {
      const t = o[TRACKED];
      const reused = this.carried.has(client);
      if (!reused) this.carried.add(client);
      if (t) {
        t.client = client;
        // A Client holds one connection and sends one request at a time: after a first request,
        // and until that connection is lost, the next one goes on the connection kept alive.
        t.reused = reused;
        t.onDispatch?.(o);
      }
      return dispatch(o, handler);
    };
    return client;
  };

  /** Request options tagged so the connection that carries them is known. */
  track<O extends object>(opts: O): { opts: O; tracked: Tracked } {
    const tracked: Tracked = { callbacks: [] };
    Object.defineProperty(opts, TRACKED, { value: tracked, enumerable: false });
    return { opts, tracked };
  }

  /** The response of `tracked` ended whole: it is suspect for a while. */
  ended(tracked: Tracked): void {
    const c = tracked.client;
    if (!c) return;
    const at = (tracked.endedAtMs = this.now());
    // One list per connection, changed in place (oldest first): a new list per response was
    // garbage that lived as long as the connection's next few responses, long enough to be promoted.
    let list = this.recent.get(c);
    if (!list) this.recent.set(c, (list = []));
    while (list.length > 0 && at - list[0]!.endedAtMs! > SUSPECT_WINDOW_MS) list.shift();
    list.push(tracked);
    if (list.length > MAX_REMEMBERED) list.shift();
  }

  /** The Pool's 'connectionError': the Client's next request opens a new connection. */
  connectFailed(client: unknown): void {
    if (client instanceof Client) this.carried.delete(client);
  }

  /** The Pool's 'disconnect': when the cause is unsolicited bytes, the connection's recent responses are distrusted. */
  disconnected(client: unknown, err: unknown): number {
    if (!(client instanceof Client)) return 0;
    this.carried.delete(client);
    const list = this.recent.get(client);
    this.recent.delete(client);
    if (!list || !unsolicitedBytes(err)) return 0;
    const now = this.now();
    let n = 0;
    for (const t of list) {
      if (now - t.endedAtMs! > SUSPECT_WINDOW_MS) continue;
      n++;
      for (const cb of t.callbacks.splice(0)) cb();
    }
    this.distrusted += n;
    return n;
  }
}

export type { Tracked };
