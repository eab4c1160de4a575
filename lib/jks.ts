// A Java KeyStore (JKS, version 2) of trusted certificates: what javax.net.ssl.trustStore reads on
// every JVM, old or new. The format, as sun.security.provider.JavaKeyStore writes it (big-endian):
//
//   u4 magic 0xFEEDFEED, u4 version 2, u4 entry count
//   per entry: u4 tag 2 (trusted certificate), UTF alias, u8 creation time (ms since the epoch),
//              UTF certificate type "X.509", u4 length, the certificate's DER
//   20 bytes: SHA-1 over the password (each char as 2 bytes, big-endian), the UTF-8 bytes of
//             "Mighty Aphrodite", and everything above
//
// UTF is Java's modified UTF-8 behind a u2 length; for the ASCII aliases accepted here it is the
// bytes themselves. Readers that pass no password (a trust store usually gets none) skip the digest.

import { createHash } from 'node:crypto';

export const JKS_MAGIC = 0xfeedfeed;
export const JKS_VERSION = 2;
export const JKS_TRUSTED_CERT_TAG = 2;
/** Java's conventional default (the JDK's own cacerts uses it). */
export const JKS_DEFAULT_PASSWORD = 'changeit';
export const JKS_DIGEST_SALT = 'Mighty Aphrodite';

const u2 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u4 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u8 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
};
/** ASCII only (checked by the caller), so modified UTF-8 is plain bytes. */
const utf = (s: string): Buffer => Buffer.concat([u2(s.length), Buffer.from(s, 'latin1')]);

/** The password as Java's JavaKeyStore feeds it to the digest: each UTF-16 code unit, big-endian. */
export function jksPasswordBytes(password: string): Buffer {
  const b = Buffer.alloc(password.length * 2);
  for (let i = 0; i < password.length; i++) b.writeUInt16BE(password.charCodeAt(i), i * 2);
  return b;
}

/** The integrity digest of a keystore body (everything before the digest). */
export function jksDigest(body: Buffer, password = JKS_DEFAULT_PASSWORD): Buffer {
  return createHash('sha1').update(jksPasswordBytes(password)).update(Buffer.from(JKS_DIGEST_SALT, 'utf8')).update(body).digest();
}

/**
 * A JKS trust store: `certsDer[i]` as the trusted-certificate entry `aliases[i]`, every entry created
 * at `created` (pass a time derived from the certificates, so equal inputs give equal bytes), sealed
 * with `password`. Aliases must be printable ASCII, lower case (Java lower-cases them when reading)
 * and unique. Throws otherwise.
 */
export function trustStoreJks(certsDer: Buffer[], aliases: string[], created: Date, password = JKS_DEFAULT_PASSWORD): Buffer {
  if (certsDer.length !== aliases.length) throw new Error(`trustStoreJks: ${certsDer.length} certificates but ${aliases.length} aliases`);
  const time = created.getTime();
  if (!Number.isFinite(time)) throw new Error('trustStoreJks: invalid creation time');
  const seen = new Set<string>();
  for (const alias of aliases) {
    if (!/^[\x20-\x7e]{1,255}$/.test(alias) || alias !== alias.toLowerCase()) {
      throw new Error(`trustStoreJks: alias ${JSON.stringify(alias)} is not lower-case printable ASCII (1-255 characters)`);
    }
    if (seen.has(alias)) throw new Error(`trustStoreJks: alias ${JSON.stringify(alias)} repeats`);
    seen.add(alias);
  }
  const parts: Buffer[] = [u4(JKS_MAGIC), u4(JKS_VERSION), u4(certsDer.length)];
  for (const [i, der] of certsDer.entries()) {
    if (der.length === 0) throw new Error(`trustStoreJks: certificate ${aliases[i]} is empty`);
    parts.push(u4(JKS_TRUSTED_CERT_TAG), utf(aliases[i]!), u8(time), utf('X.509'), u4(der.length), der);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, jksDigest(body, password)]);
}
