// One spelling per signed token (compact JWS, RFC 7515 §7.1), so that the rate
// limit counts one token as one client and the JWT stage remembers it once.
// A signature can be written several ways that all verify:
//
// - base64url's last character carries 2 or 4 bits that encode nothing
//   (RFC 4648 §3.5); jose decodes with atob, which ignores them, so a 64-byte
//   ES256 signature has 16 spellings, and anyone holding the token can make them.
// - ECDSA: if (r, s) verifies, so does (r, n − s) (WebCrypto and OpenSSL have no
//   low-S rule), and anyone holding the token can compute it.
//
// canonicalJws() writes the signature's bytes back in base64url, with the ECDSA
// s taken as the lower of s and n − s. Two spellings with one canonical form are
// the same signature, so they verify alike: jose accepts every one of them. A value
// in any other shape (padding, "+" or "/", not three parts) is returned as it is:
// jose refuses some of those, and their form must not stand for one it accepts.
// RSA (PKCS #1 v1.5 is deterministic; a PSS signature is the signer's to vary),
// EdDSA (OpenSSL refuses a non-canonical S) and HMAC have no other spelling.

/** The order n of each ECDSA curve (FIPS 186-5 / SEC 2), by JWS algorithm, and its bytes per signature half. */
const CURVE_ORDERS: Readonly<Record<string, { n: bigint; bytes: number }>> = {
  ES256: { n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n, bytes: 32 },
  ES384: { n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n, bytes: 48 },
  ES512: {
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    bytes: 66,
  },
};

const SEGMENT = /^[A-Za-z0-9_-]*$/;

/** The `alg` of a protected header segment, if it is base64url JSON naming one. */
function algOf(header: string): string | undefined {
  try {
    const alg = (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown }).alg;
    return typeof alg === 'string' ? alg : undefined;
  } catch {
    return undefined;
  }
}

/** An ECDSA r‖s signature with s as the lower of s and n − s; `sig` as it is when not of the curve's size or s is out of range. */
function lowS(sig: Buffer, curve: { n: bigint; bytes: number }): Buffer {
  if (sig.length !== 2 * curve.bytes) return sig;
  const s = BigInt(`0x${sig.subarray(curve.bytes).toString('hex')}`);
  if (s === 0n || s >= curve.n || s <= curve.n >> 1n) return sig;
  const low = Buffer.from((curve.n - s).toString(16).padStart(2 * curve.bytes, '0'), 'hex');
  return Buffer.concat([sig.subarray(0, curve.bytes), low]);
}

/** `token` with its signature in the one spelling every equivalent one shares; `token` itself when it is no strict compact JWS. */
export function canonicalJws(token: string): string {
  const first = token.indexOf('.');
  const last = token.lastIndexOf('.');
  if (first < 0 || first === last || token.indexOf('.', first + 1) !== last) return token;
  const signature = token.slice(last + 1);
  // A length of 4k + 1 characters is no base64url at all (atob refuses it).
  if (!SEGMENT.test(signature) || signature.length % 4 === 1) return token;
  let bytes: Buffer = Buffer.from(signature, 'base64url');
  const curve = CURVE_ORDERS[algOf(token.slice(0, first)) ?? ''];
  if (curve !== undefined) bytes = lowS(bytes, curve);
  return `${token.slice(0, last + 1)}${bytes.toString('base64url')}`;
}
