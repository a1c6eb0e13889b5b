// Kinds of the TLS settings (./schema/tls.ts): certificate/key file pairs and a
// listen address that may be off. Like ./kinds.ts they only parse what was
// written; the files are read when the node starts (server/certificates.ts).

import { hostPort, isMapping, notA, Problem, textOf, within, type Kind } from './kinds.js';
import type { ListenAddress } from './units.js';

export interface CertificatePair {
  /** PEM certificate chain file, leaf first. */
  cert: string;
  /** PEM private key file of the leaf. */
  key: string;
}

const PAIR_EXPECTED = 'a list of mappings with cert and key file paths, e.g. [{ cert: site.crt, key: site.key }]';

function filePath(raw: unknown, what: string): string {
  textOf(raw);
  if (typeof raw !== 'string' || raw.trim() === '') throw notA(raw, what, 'a non-empty file path');
  return raw.trim();
}

/**
 * Certificate/key file pairs. YAML writes a list of { cert, key } mappings; the
 * flags --tls-cert/--tls-key (and their env lists) are paired by load.ts into the
 * same shape, in the order given.
 */
export function certificatePairs(): Kind<CertificatePair[]> {
  return {
    arg: 'FILE',
    repeatable: true,
    parse: (raw) => {
      if (!Array.isArray(raw)) throw notA(raw, 'a list of certificate pairs', PAIR_EXPECTED);
      return raw.map((item: unknown, i) =>
        within(`[${i}]`, () => {
          if (!isMapping(item)) throw notA(item, 'a certificate pair', PAIR_EXPECTED);
          const { cert, key, ...rest } = item;
          const unknown = Object.keys(rest)[0];
          if (unknown !== undefined) throw new Problem(`unknown key ${JSON.stringify(unknown)} (expected cert, key)`);
          return { cert: within('.cert', () => filePath(cert, 'a certificate file')), key: within('.key', () => filePath(key, 'a key file')) };
        }),
      );
    },
    format: (pairs) => pairs.map((p) => ({ ...p })),
  };
}

/** A listen address, or null (written "" or off) for none. */
export function optionalHostPort(): Kind<ListenAddress | null> {
  const address = hostPort();
  return {
    arg: 'HOST:PORT',
    parse: (raw) => (raw === null || raw === '' || raw === 'off' || raw === false ? null : address.parse(raw)),
    format: (v) => (v === null ? '' : address.format(v)),
  };
}
