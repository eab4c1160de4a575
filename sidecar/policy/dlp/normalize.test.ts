import { describe, expect, it } from 'vitest';
import { compileDlp, redact } from './index.js';
import { normalize, originalSpan } from './normalize.js';

/** What a scanner at this spec finds, as the original substrings. */
const found = (text: string, spec = {}): string[] => compileDlp(spec).scan(text).map((f) => text.slice(f.start, f.end));
const redacted = (text: string, spec = {}): string => redact(text, compileDlp(spec).scan(text));

describe('normalize', () => {
  it('leaves ASCII text alone (the fast path: no copy, no map)', () => {
    expect(normalize('card 4111 1111 1111 1111')).toBeUndefined();
    expect(normalize('')).toBeUndefined();
  });

  it('folds full-width characters, removes invisibles, unifies dashes; maps back to the original', () => {
    const text = 'x\u200b１２3\u2011４ﬁ';
    const n = normalize(text)!;
    expect(n.text).toBe('x123-4fi');
    // Each folded character points at the code point it came from.
    expect(originalSpan(n, 1, 3)).toEqual({ start: 2, end: 4 }); // '12' from '１２'
    expect(originalSpan(n, 0, 2)).toEqual({ start: 0, end: 3 }); // 'x1' spans the zero-width space
    expect(originalSpan(n, 6, 7)).toEqual({ start: 7, end: 8 }); // 'f' of the ligature: all of it
    expect(originalSpan(n, 7, 8)).toEqual({ start: 7, end: 8 });
  });

  it('keeps astral characters and their offsets (surrogate pairs)', () => {
    const text = '\u{1F600} 123-45-6789 \u{1D7CF}'; // emoji, SSN, mathematical bold digit one
    const n = normalize(text)!;
    expect(n.text).toBe('\u{1F600} 123-45-6789 1');
    expect(found(text)).toEqual(['123-45-6789']);
  });
});

describe('DLP evasions that normalisation catches', () => {
  it('a zero-width space (or joiner, soft hyphen, BOM) inside a card number', () => {
    for (const zw of ['\u200b', '\u200c', '\u200d', '\u2060', '\u00ad', '\ufeff']) {
      const text = `card 4111${zw}1111${zw}1111${zw}1111 ok`;
      expect(found(text), JSON.stringify(zw)).toEqual([`4111${zw}1111${zw}1111${zw}1111`]);
    }
  });

  it('a zero-width space inside every digit pair of a card number', () => {
    const text = `pay ${'4111111111111111'.split('').join('\u200b')} now`;
    expect(redacted(text)).toBe('pay [REDACTED:credit_card] now');
  });

  it('Unicode hyphens and dashes in an SSN and a card number', () => {
    for (const dash of ['\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\ufe58', '\ufe63', '\uff0d']) {
      expect(found(`ssn 123${dash}45${dash}6789`), dash).toEqual([`123${dash}45${dash}6789`]);
      expect(found(`card 4111${dash}1111${dash}1111${dash}1111`), dash).toEqual([`4111${dash}1111${dash}1111${dash}1111`]);
    }
  });

  it('full-width digits and an ideographic space', () => {
    expect(found('card ４１１１\u3000１１１１\u3000１１１１\u3000１１１１.')).toEqual(['４１１１\u3000１１１１\u3000１１１１\u3000１１１１']);
    expect(found('ssn １２３－４５－６７８９')).toEqual(['１２３－４５－６７８９']);
  });

  it('no-break spaces between the groups', () => {
    expect(found('card 4111\u00a01111\u202f1111\u00a01111')).toEqual(['4111\u00a01111\u202f1111\u00a01111']);
  });

  it('full-width letters in an email and a key prefix', () => {
    expect(found('mail ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ please')).toEqual(['ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ']);
  });

  it('redaction replaces the whole original span: neither the digits nor the invisibles are left', () => {
    const text = 'a \u200b4111\u200b 1111 \u200b１１１１\u200b 1111\u200b b';
    const out = redacted(text);
    expect(out).toBe('a \u200b[REDACTED:credit_card]\u200b b');
    expect(out).not.toMatch(/[0-9０-９]/);
  });

  it('maps several findings in one non-ASCII text to their own spans', () => {
    const text = 'é 123‐45‐6789 é jane@example.com é ４１１１ １１１１ １１１１ １１１１';
    expect(redacted(text)).toBe('é [REDACTED:ssn] é [REDACTED:email] é [REDACTED:credit_card]');
  });
});
