import { describe, expect, it } from 'vitest';
import { createApiKey } from './api-key.js';
import { matches } from './testing.js';

const keys = createApiKey({ generic: false });
const eager = createApiKey({ generic: true });

const OPENAI_PROJECT = 'sk-proj-' + 'Ab3dEf6hIj9lMn2pQr5tUv8xYz1BcD4fGh7jKl0nOp3rSt6vWx9zAb2dEf5hIj8l';
const OPENAI_LEGACY = 'sk-' + 'Xy7Pq2Lm9Rt4Vw1Kz8Bn' + 'T3BlbkFJ' + 'Hd5Fs3Gj6Ac0Qe2Wr4Ty';
const ANTHROPIC = 'sk-ant-api03-' + 'aB3-dE6_gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hI6kL9nO2qR5tU8wX1zA4cD7fG0iJ3lM6oP9rS2uV5xY8aB1dE4gH7jK0mN3pQ6sT9v' + 'AA';
const GITHUB = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a';
const GITHUB_PAT = 'github_pat_11ABCDEFG0123456789abcde_' + 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456';
const RANDOM = 'Zx9Qm3Lp7Rt2Vw8Ky4Bn6Hd1Fs5Gj0AcE3uWq7';

describe('api_key', () => {
  it.each([
    ['OpenAI project key', OPENAI_PROJECT],
    ['OpenAI legacy key', OPENAI_LEGACY],
    ['Anthropic key', ANTHROPIC],
    ['GitHub token', GITHUB],
    ['GitHub fine-grained token', GITHUB_PAT],
  ])('finds an %s', (_what, key) => {
    expect(matches(keys, `OPENAI_API_KEY=${key}`)).toEqual([key]);
    expect(matches(keys, `Authorization: Bearer ${key}\n`)).toEqual([key]);
    expect(matches(keys, `{"key":"${key}"}`)).toEqual([key]);
  });

  it.each([
    ['a word', 'use sk-learn for this'],
    ['a long lower-case word', 'sk-learn-compatible-estimator-wrapper-module'],
    ['"sk-" inside a word', 'risk-adjusted-Return7Calculation-model-x'],
    ['"task-" ', 'task-Force2024-Planning-Committee-Notes'],
    ['too short', 'sk-Ab3dEf6hIj9'],
    ['a short GitHub token', 'ghp_16C7e42F292c6912E'],
    ['a GitHub token with no digits', 'ghp_' + 'a'.repeat(36)],
    ['a random token (medium)', RANDOM],
  ])('rejects %s', (_why, text) => {
    expect(matches(keys, `x ${text} x`)).toEqual([]);
  });

  describe('generic secrets (high sensitivity)', () => {
    it('finds random-looking tokens', () => {
      expect(matches(eager, `secret: ${RANDOM}`)).toEqual([RANDOM]);
      expect(matches(eager, `pw=${RANDOM}== next`)).toEqual([`${RANDOM}==`]);
    });
    it('still names vendor keys as such', () => {
      expect(matches(eager, `k ${OPENAI_PROJECT} k`)).toEqual([OPENAI_PROJECT]);
    });
    it.each([
      ['a UUID', '3f2a9c1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b'],
      ['an upper-case UUID', '3F2A9C1E-8B7D-4E6F-9A0B-1C2D3E4F5A6B'],
      ['a SHA-256', '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'],
      ['an identifier', 'AbstractSingletonProxyFactoryBeanImpl'],
      ['a path', '/usr/local/lib/node_modules/typescript/lib/tsc.js'],
      ['a short token', 'Zx9Qm3Lp7Rt2Vw8Ky4Bn6'],
      ['a blob', 'iVBORw0KGgo' + 'AAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg'.repeat(4)],
    ])('rejects %s', (_why, text) => {
      expect(matches(eager, `x ${text} x`)).toEqual([]);
    });
  });
});
