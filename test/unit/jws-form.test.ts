// The canonical spelling of a signed token (routing/guard/jws-form.ts): every
// spelling jose accepts for one signature — the unused bits of base64url's last
// character, an ECDSA (r, n − s) — has one form; other tokens keep theirs; values
// jose refuses are left as they are. Each case is checked against jose itself, so
// the curve orders are checked too: a wrong n would make a high-S copy that fails.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { canonicalJws } from '../../src/routing/guard/jws-form.js';
import { lastCharSpellings, otherEcdsaSignature, P256_ORDER } from '../fixtures/jws-spellings.js';

const accepted = async (token: string, key: KeyObject): Promise<boolean> =>
  jwtVerify(token, key).then(
    () => true,
    () => false,
  );

const CURVES = [
  { alg: 'ES256', curve: 'P-256', half: 32, n: P256_ORDER },
  { alg: 'ES384', curve: 'P-384', half: 48, n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n },
  {
    alg: 'ES512',
    curve: 'P-521',
    half: 66,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  },
];

test('ECDSA tokens: every spelling jose accepts (last-character bits, high or low s) has one canonical form', async () => {
  for (const c of CURVES) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: c.curve });
    const token = await new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: c.alg }).setExpirationTime('1h').sign(privateKey);
    const spellings = [...lastCharSpellings(token), ...lastCharSpellings(otherEcdsaSignature(token, c.n, c.half))];
    // 64 bytes (ES256) leave 4 unused bits in the last character; 96 and 132 bytes none.
    assert.equal(spellings.length, c.alg === 'ES256' ? 32 : 2, c.alg);
    const forms = new Set<string>();
    for (const s of spellings) {
      assert.equal(await accepted(s, publicKey), true, `${c.alg}: jose accepts ${s.slice(-4)}`);
      forms.add(canonicalJws(s));
    }
    assert.equal(forms.size, 1, `${c.alg}: one form for ${spellings.length} spellings`);
    const other = await new SignJWT({ sub: 'b' }).setProtectedHeader({ alg: c.alg }).setExpirationTime('1h').sign(privateKey);
    assert.ok(!forms.has(canonicalJws(other)), `${c.alg}: another token keeps a form of its own`);
    // A spelling that is a different signature stays different (and jose refuses it).
    const changed = token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1)!;
    assert.equal(await accepted(changed, publicKey), false);
    assert.ok(!forms.has(canonicalJws(changed)), `${c.alg}: a different signature, a different form`);
  }
});

test('HS256 and RS256 tokens: the last-character spellings share a form; refused shapes are left as they are', async () => {
  const secret = Buffer.from('an HS256 test secret of 32 bytes!');
  const hs = await new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
  assert.equal(new Set(lastCharSpellings(hs).map(canonicalJws)).size, 1);
  assert.equal(lastCharSpellings(hs).length, 4, '32 bytes: 43 characters, 2 unused bits');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rs = await new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
  assert.equal(new Set(lastCharSpellings(rs).map(canonicalJws)).size, 1);
  for (const s of lastCharSpellings(rs)) assert.equal(await accepted(s, rsa.publicKey), true);
  assert.equal(canonicalJws(lastCharSpellings(hs)[3]!), lastCharSpellings(hs)[0], 'the canonical spelling has the unused bits clear');

  // Not a strict compact JWS: as it is (jose refuses "+" and "/"; padding is not its form).
  for (const v of ['opaque-token', 'a.b', 'a.b.c.d', `${hs.slice(0, -1)}+`, `${hs}=`, 'x.y.z~', 'a.b.ABCDE']) assert.equal(canonicalJws(v), v, v);
  // An unsigned token ("alg": "none") or a header that is no JSON: the bytes only.
  assert.equal(canonicalJws('e30.e30.'), 'e30.e30.');
  assert.equal(canonicalJws('!!!.e30.QR'), '!!!.e30.QQ');
});
