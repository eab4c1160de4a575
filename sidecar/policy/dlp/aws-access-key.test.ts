import { describe, expect, it } from 'vitest';
import { createAwsAccessKey } from './aws-access-key.js';
import { matches } from './testing.js';

const aws = createAwsAccessKey();
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('aws_access_key', () => {
  it.each([
    ['key id AKIAIOSFODNN7EXAMPLE here', ['AKIAIOSFODNN7EXAMPLE']],
    ['"AccessKeyId": "ASIAY34FZKBOKMUTVV7A"', ['ASIAY34FZKBOKMUTVV7A']],
    [`aws_secret_access_key = ${SECRET}`, [SECRET]],
    [`AWS_SECRET_ACCESS_KEY=${SECRET}\n`, [SECRET]],
    [`export AWS_SECRET_KEY="${SECRET}"`, [SECRET]],
    [`{"SecretAccessKey": "${SECRET}"}`, [SECRET]],
    [`const c = { secretAccessKey: '${SECRET}' }`, [SECRET]],
    [`my aws secret: ${SECRET}`, [SECRET]],
  ])('finds in %j', (text, want) => {
    expect(matches(aws, text)).toEqual(want);
  });

  it.each([
    ['19 characters', 'AKIAIOSFODNN7EXAMPL'],
    ['21 characters', 'AKIAIOSFODNN7EXAMPLEX'],
    ['not base32 (0, 1, 8, 9)', 'AKIA1234567890123456'],
    ['lower case', 'akiaiosfodnn7example'],
    ['inside a word', 'XAKIAIOSFODNN7EXAMPLE'],
    ['another id type', 'AIDAIOSFODNN7EXAMPLE'],
    ['a secret-looking value with no hint', `token: ${SECRET}`],
    ['a hint with a word-like value', 'aws_secret_access_key = abcdefghijklmnopqrstuvwxyzabcdefghijklmn'],
    ['a hint with a longer value', `aws_secret_access_key = ${SECRET}AB`],
    ['a secret that is not AWS', `client_secret = ${SECRET}`],
  ])('rejects %s', (_why, text) => {
    expect(matches(aws, text)).toEqual([]);
  });
});
