import { describe, expect, it } from 'vitest';
import { createPrivateKey } from './private-key.js';
import { matches } from './testing.js';

const pem = createPrivateKey();
const body = 'MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\naIIIxxJ5yF6ZsG1iGpyJ4AnZ0yCwQ5HfU0x5cUcKsGq4nNyNg9nSfJ0DPe6tJ9Ne\n';
const rsa = `-----BEGIN RSA PRIVATE KEY-----\n${body}-----END RSA PRIVATE KEY-----`;

describe('private_key', () => {
  it.each([
    ['RSA', rsa],
    ['PKCS#8', `-----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY-----`],
    ['encrypted PKCS#8', `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${body}-----END ENCRYPTED PRIVATE KEY-----`],
    ['EC', `-----BEGIN EC PRIVATE KEY-----\n${body}-----END EC PRIVATE KEY-----`],
    ['OpenSSH', `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}-----END OPENSSH PRIVATE KEY-----`],
    ['PGP', `-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n${body}-----END PGP PRIVATE KEY BLOCK-----`],
  ])('finds a whole %s block', (_what, block) => {
    expect(matches(pem, `here:\n${block}\nthanks`)).toEqual([block]);
  });

  it('finds a key written with escaped newlines (in code or JSON text)', () => {
    const escaped = rsa.replaceAll('\n', '\\n');
    expect(matches(pem, `const key = "${escaped}";`)).toEqual([escaped]);
  });

  it('finds a truncated key from its header through its body', () => {
    const cut = `-----BEGIN RSA PRIVATE KEY-----\n${body}`;
    expect(matches(pem, `${cut}\nand then the paste stopped`)).toEqual([`${cut}\nand`]);
    expect(matches(pem, `${cut.trimEnd()}`)).toEqual([cut.trimEnd()]);
  });

  it('finds two keys separately', () => {
    expect(matches(pem, `${rsa}\n\n${rsa}`)).toEqual([rsa, rsa]);
  });

  it.each([
    ['a certificate', `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----`],
    ['a public key', `-----BEGIN PUBLIC KEY-----\n${body}-----END PUBLIC KEY-----`],
    ['prose', 'BEGIN the PRIVATE KEY rotation'],
  ])('rejects %s', (_why, text) => {
    expect(matches(pem, text)).toEqual([]);
  });
});
