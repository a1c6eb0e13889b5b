// The TLS certificates of the proxy listener: each configured cert/key pair read
// from its files, checked (PEM, key matching the certificate) and turned into a
// SecureContext; the context for a client is chosen by its SNI name among the
// names each certificate carries (subjectAltName DNS names, else the CN; "*."
// wildcards match one label), the first pair otherwise.
//
// Reload without a restart: refresh() re-reads a pair whose files changed (size,
// mtime or inode, so an atomic rename or a symlink swap counts) or every pair
// when forced (the node's reload), and takes it when the certificate file's bytes
// (chain included) or the key differ from the pair in use. A new pair that fails any check is refused
// with a warning and the pair's old context keeps serving; connections already
// open keep the certificate they were handshaken with. Invariant: a context in
// use was always built from a cert and key that matched.

import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import tls, { type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { CertificatePair, TlsConfig } from '../config/types.js';
import { StrataError } from '../errors.js';

interface LoadedPair {
  /** Lower-case DNS names and "*." wildcards the certificate is valid for. */
  names: string[];
  context: SecureContext;
  cert: Buffer;
  key: Buffer;
  fingerprint: string;
  validTo: string;
}

interface Slot {
  pair: CertificatePair;
  current: LoadedPair;
  /** The files' identity when last read (or tried): a change means read again. */
  seen: string;
}

export interface CertificateReport {
  /** Certificate files whose new contents are now served. */
  reloaded: string[];
  /** Certificate files whose new contents were refused (the old pair still serves), with why. */
  refused: { cert: string; reason: string }[];
}

/** The files' identity: a change of any part means the pair is read again. */
async function filesSignature(pair: CertificatePair): Promise<string> {
  const parts = await Promise.all(
    [pair.cert, pair.key].map((f) =>
      stat(f).then(
        (s) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`,
        (err: NodeJS.ErrnoException) => `missing:${err.code ?? ''}`,
      ),
    ),
  );
  return parts.join('|');
}

/** DNS names of a certificate: subjectAltName DNS entries, else the subject CN. */
function namesOf(x509: X509Certificate): string[] {
  const san = (x509.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  if (san.length > 0) return san;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1];
  return cn ? [cn.trim().toLowerCase()] : [];
}

async function loadPair(pair: CertificatePair, minVersion: TlsConfig['minVersion']): Promise<LoadedPair> {
  const [cert, key] = await Promise.all([readFile(pair.cert), readFile(pair.key)]);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`${pair.cert} is not a PEM certificate (${(err as Error).message})`);
  }
  let context: SecureContext;
  try {
    // Refuses a key that is not PEM or does not match the certificate ("key values mismatch").
    context = tls.createSecureContext({ cert, key, minVersion });
  } catch (err) {
    throw new Error(`${pair.key} does not go with ${pair.cert} (${(err as Error).message})`);
  }
  return { names: namesOf(x509), context, cert, key, fingerprint: x509.fingerprint256, validTo: x509.validTo };
}

/** A pair read and checked, or TLS_CERTIFICATE_INVALID naming the file and why. */
async function checkedPair(pair: CertificatePair, minVersion: TlsConfig['minVersion']): Promise<LoadedPair> {
  try {
    return await loadPair(pair, minVersion);
  } catch (err) {
    throw new StrataError('TLS_CERTIFICATE_INVALID', `tls.certificates: ${(err as Error).message}`);
  }
}

/** What start-up checks of the certificates, without a node (`strata check-config`). */
export async function checkCertificates(pairs: readonly CertificatePair[], minVersion: TlsConfig['minVersion']): Promise<void> {
  for (const pair of pairs) await checkedPair(pair, minVersion);
}

/** Does certificate name `pattern` (maybe "*.example.com") cover host `name`? RFC 6125 §6.4.3: the wildcard is one whole label. */
function covers(pattern: string, name: string): boolean {
  if (pattern === name) return true;
  if (!pattern.startsWith('*.')) return false;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot) === pattern.slice(1);
}

export class Certificates {
  private readonly listeners: (() => void)[] = [];
  private refreshing: Promise<CertificateReport> | undefined;

  private constructor(
    private readonly slots: Slot[],
    private readonly minVersion: TlsConfig['minVersion'],
    private readonly logger: Logger,
  ) {}

  /** Read every pair; any failure refuses start-up (TLS_CERTIFICATE_INVALID) naming the file and why. */
  static async load(pairs: readonly CertificatePair[], minVersion: TlsConfig['minVersion'], logger: Logger): Promise<Certificates> {
    const slots = await Promise.all(pairs.map(async (pair) => ({ pair, seen: await filesSignature(pair), current: await checkedPair(pair, minVersion) })));
    const certs = new Certificates(slots, minVersion, logger);
    for (const s of slots) logger.info({ cert: s.pair.cert, names: s.current.names, validTo: s.current.validTo }, 'TLS certificate loaded');
    return certs;
  }

  /** The context for a client's SNI name: an exact name first, then a wildcard, else the first pair's. */
  contextFor(servername: string | undefined): SecureContext {
    const name = (servername ?? '').toLowerCase().replace(/\.$/, '');
    if (name !== '') {
      for (const s of this.slots) if (s.current.names.includes(name)) return s.current.context;
      for (const s of this.slots) if (s.current.names.some((p) => covers(p, name))) return s.current.context;
    }
    return this.slots[0]!.current.context;
  }

  /** The first pair's PEM, for clients that send no SNI (server.setSecureContext). */
  defaultPem(): { cert: Buffer; key: Buffer } {
    const { cert, key } = this.slots[0]!.current;
    return { cert, key };
  }

  /** Be told after a refresh that changed what is served. */
  onReloaded(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * Re-read the pairs whose files changed since last read (every pair when
   * `force`). Concurrent calls share one pass.
   */
  refresh(force = false): Promise<CertificateReport> {
    // A forced pass must read every pair: it waits for a periodic one in flight, then runs its own.
    if (this.refreshing && force) return this.refreshing.then(() => this.refresh(true));
    this.refreshing ??= this.refreshOnce(force).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refreshOnce(force: boolean): Promise<CertificateReport> {
    const report: CertificateReport = { reloaded: [], refused: [] };
    for (const slot of this.slots) {
      const seen = await filesSignature(slot.pair);
      if (!force && seen === slot.seen) continue;
      // Remembered even when refused: a half-written pair is tried again at its next change, not every tick.
      slot.seen = seen;
      try {
        const next = await loadPair(slot.pair, this.minVersion);
        // The whole file, not only the leaf: a chain completed or changed (leaf + a new intermediate) is news too.
        if (next.cert.equals(slot.current.cert) && next.key.equals(slot.current.key)) continue;
        slot.current = next;
        report.reloaded.push(slot.pair.cert);
        this.logger.info({ cert: slot.pair.cert, names: next.names, validTo: next.validTo }, 'TLS certificate reloaded: new connections get it');
      } catch (err) {
        const reason = (err as Error).message;
        report.refused.push({ cert: slot.pair.cert, reason });
        this.logger.warn({ cert: slot.pair.cert, reason }, 'TLS certificate change refused: the previous certificate keeps serving');
      }
    }
    if (report.reloaded.length > 0) for (const l of this.listeners) l();
    return report;
  }

  /** Check the files every `intervalMs` (0: never); returns the stop function. */
  watch(intervalMs: number): () => void {
    if (intervalMs <= 0) return () => {};
    const timer = setInterval(() => {
      void this.refresh(false);
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

/**
 * The node's reload step for certificates (structurally a ReloadHook): every
 * reload re-reads every pair, whose file names are those the node started with
 * (a different list of files needs a restart). A refused pair never refuses the
 * reload: the old one keeps serving and the refusal is logged.
 */
export function certificatesReloadStep(certs: Certificates): { name: string; apply: () => Promise<void> } {
  return {
    name: 'tls.certificates',
    apply: async () => {
      await certs.refresh(true);
    },
  };
}
