import { describe, expect, it } from 'vitest';
import { anyNameGlob, globMatch, nameGlob, pathGlob } from './glob.js';

describe('globMatch', () => {
  it.each([
    ['abc', 'abc', true],
    ['abc', 'abcd', false],
    ['abc', 'xabc', false],
    ['*', '', true],
    ['*', 'anything/at all', true],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ba', false],
    ['*c', 'abc', true],
    ['*c', 'cb', false],
    ['a*c', 'ac', true],
    ['a*c', 'abbbc', true],
    ['a*c', 'abcd', false],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'acb', false],
    ['a*b*b', 'abb', true], // middle piece must leave room for the suffix
    ['a*bb*b', 'abbb', true],
    ['a*bb*b', 'abb', false],
    ['a**b', 'ab', true],
    // everything but * is literal: regex metacharacters mean themselves
    ['a.c', 'abc', false],
    ['a.c', 'a.c', true],
    ['a+b', 'a+b', true],
    ['a+b', 'aab', false],
    ['(x)|y', '(x)|y', true],
    ['[ab]', 'a', false],
    ['[ab]', '[ab]', true],
    ['a?c', 'abc', false],
    ['^a$', '^a$', true],
    ['a\\b', 'a\\b', true],
    ['a\\*', 'a\\zzz', true],
  ])('%s ~ %s → %s', (glob, value, want) => {
    expect(globMatch(glob, value)).toBe(want);
  });

  it('stays linear on a long value that almost matches', () => {
    const value = '/' + 'a'.repeat(200_000);
    const started = performance.now();
    expect(globMatch('/*a*a*a*a*a*b', value)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('pathGlob and nameGlob', () => {
  it.each([
    ['/v1/*', '/v1/chat/completions', true],
    ['/v1/*', '/v1/', true],
    ['/v1/*', '/v1', false],
    ['/v1/*', '/V1/chat', false], // paths are case-sensitive
    ['/*/completions', '/v1/chat/completions', true],
    ['/v1/models', '/v1/models', true],
  ])('path %s ~ %s → %s', (glob, path, want) => {
    expect(pathGlob(glob, path)).toBe(want);
  });

  it('matches tool names case-sensitively unless asked', () => {
    expect(nameGlob('shell_*', 'shell_exec')).toBe(true);
    expect(nameGlob('shell_*', 'Shell_exec')).toBe(false);
    expect(nameGlob('shell_*', 'Shell_exec', true)).toBe(true);
  });

  it('anyNameGlob tolerates absent lists and holes', () => {
    expect(anyNameGlob(undefined, 'x')).toBe(false);
    expect(anyNameGlob([], 'x')).toBe(false);
    expect(anyNameGlob([undefined, 'x*'], 'xy')).toBe(true);
  });
});
