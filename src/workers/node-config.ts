// The node's running configuration, kept by the primary for the workers it restarts.
//
// Workers load their configuration from the flags, environment and file at the
// node's start, and again at every reload. A worker the primary restarts after a
// crash runs what the other workers run, not the file as it is at that moment:
// the file may have been edited since without a reload (that worker alone would
// run it), or a reload of it refused (the restarted worker would then exit 2 at
// every restart, and the node serve on one worker fewer until someone fixed the
// file). So every worker tells the primary the configuration of each reload it
// applied, and a restarted worker asks the primary for the node's before it
// starts: restart-only settings as the node started, live ones from the last
// reload applied (config/reload.ts reloadedConfig: what the running workers hold).
// Messages use node:cluster's 'advanced' serialisation (structured clone, as
// reloadedConfig copies), set by the primary before its first fork.

import { deepFreeze, reloadedConfig } from '../config/reload.js';
import type { Config } from '../config/types.js';
import { StrataError } from '../errors.js';

/** A worker to its primary: the configuration of a reload it applied; or "what does the node run?". */
export type ConfigMessage = { strata: 'applied'; config: Config } | { strata: 'config?' };
/** The primary's answer to `config?`. */
export interface ConfigAnswer {
  strata: 'config';
  config: Config;
}

/** How long a restarted worker waits for its primary's answer before it gives up (exit 1: restarted again). */
const ASK_MS = 10_000;

export class NodeConfig {
  /** The configuration of the last reload a worker applied (as loaded from the file). */
  private applied: Readonly<Config> | undefined;

  constructor(private readonly started: Readonly<Config>) {}

  /** What the workers run now. */
  running(): Readonly<Config> {
    return this.applied ? reloadedConfig(this.started, this.applied) : this.started;
  }

  /** A worker's message; `reply` answers that worker. False when it is no configuration message. */
  handle(m: { strata?: unknown } | undefined, reply: (a: ConfigAnswer) => void): boolean {
    if (m?.strata === 'applied') {
      // Every worker reports the same reload (each loaded the same file): the last one stands.
      this.applied = (m as { config: Config }).config;
      return true;
    }
    if (m?.strata !== 'config?') return false;
    reply({ strata: 'config', config: this.running() as Config });
    return true;
  }
}

/** A worker: tells its primary that it applied a reload of `config` (as loaded, before its worker's share). */
export function reportApplied(config: Readonly<Config>): void {
  process.send?.({ strata: 'applied', config } satisfies ConfigMessage);
}

/** A restarted worker: the node's running configuration, asked of the primary. */
export function askPrimary(timeoutMs = ASK_MS): Promise<Readonly<Config>> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      process.off('message', onMessage);
    };
    const onMessage = (m: Partial<ConfigAnswer> | undefined): void => {
      if (m?.strata !== 'config' || m.config === undefined) return;
      done();
      resolve(deepFreeze(m.config));
    };
    const timer = setTimeout(() => {
      done();
      reject(new StrataError('INTERNAL', `the primary did not send the node's running configuration within ${timeoutMs} ms; this worker stops and is restarted`));
    }, timeoutMs);
    const failed = (why: string): void => {
      done();
      reject(new StrataError('INTERNAL', `a restarted worker cannot learn the node's running configuration: ${why}`));
    };
    if (!process.send) return failed('no channel to the primary');
    process.on('message', onMessage);
    process.send({ strata: 'config?' } satisfies ConfigMessage, undefined, undefined, (err: Error | null) => err && failed(err.message));
  });
}
