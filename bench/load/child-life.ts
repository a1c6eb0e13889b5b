// Shared by the server children: exit when told to (SIGTERM/SIGINT) or when the
// runner is gone (stdin closed), running `shutdown` once first.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listen on 127.0.0.1:`port`, print {"port", …info, "pid"} for the runner, close on shutdown. */
export function serveUntilShutdown(server: Server, port: number, info: Record<string, unknown>): void {
  server.listen(port, '127.0.0.1', () => {
    const addr = server.address() as AddressInfo;
    process.stdout.write(JSON.stringify({ port: addr.port, ...info, pid: process.pid }) + '\n');
  });
  onShutdown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
}

export function onShutdown(shutdown: () => Promise<void> | void): void {
  let done = false;
  const run = (why: string) => {
    if (done) return;
    done = true;
    if (process.env['BENCH_CHILD_DEBUG']) process.stderr.write(`[pid ${process.pid}] shutting down: ${why}\n`);
    const hardStop = setTimeout(() => process.exit(1), 4000);
    hardStop.unref();
    Promise.resolve()
      .then(shutdown)
      .catch((err: unknown) => process.stderr.write(`shutdown failed: ${String(err)}\n`))
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', () => run('SIGTERM'));
  process.once('SIGINT', () => run('SIGINT'));
  process.stdin.once('end', () => run('stdin closed (runner gone)'));
  process.stdin.once('error', (err) => run(`stdin error ${err.message}`));
  process.stdin.resume();
}

/** "1024", "1k", "1KiB", "1m", "1MiB", "1g", "1GiB" → bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+)\s*(k|kib|kb|m|mib|mb|g|gib|gb)?$/i.exec(s.trim());
  if (!m) throw new Error(`bad size ${JSON.stringify(s)}`);
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  return unit.startsWith('k') ? n * 1024 : unit.startsWith('m') ? n * 1024 * 1024 : unit.startsWith('g') ? n * 1024 ** 3 : n;
}
