import { describe, expect, it } from 'vitest';
import { createEmail } from './email.js';
import { matches } from './testing.js';

const email = createEmail();

describe('email', () => {
  it.each([
    ['mail jane.doe@example.com now', ['jane.doe@example.com']],
    ['<a+tag@sub.example.co.uk>', ['a+tag@sub.example.co.uk']],
    ['"first_last@example.io",', ['first_last@example.io']],
    ['end of sentence bob@example.org.', ['bob@example.org']],
    ['mailto:ops-team@corp.example.com?subject=x', ['ops-team@corp.example.com']],
    ['two a@example.com b@example.net', ['a@example.com', 'b@example.net']],
  ])('finds in %j', (text, want) => {
    expect(matches(email, text)).toEqual(want);
  });

  it.each([
    '@Component({ selector: "x" })',
    'import "@types/node"',
    'user@localhost',
    'foo@bar',
    'a@b.c',
    '@ alone',
    'x@-bad.com',
    'trailing dot.@example.com',
  ])('rejects %j', (text) => {
    expect(matches(email, text)).toEqual([]);
  });
});
