import { describe, expect, it } from 'vitest';
import { closedPrefix, structuralProblem } from './json-structure.js';

const check = (text: string, depth = 128): string | undefined => {
  JSON.parse(text); // the scanner only ever sees what JSON.parse accepted
  return structuralProblem(text, depth);
};

describe('structuralProblem: nesting', () => {
  const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  it('counts arrays and objects, and scans 10,000 levels without recursion', () => {
    expect(check('{"a": [1, {"b": 2}]}', 3)).toBeUndefined();
    expect(check('{"a": [1, {"b": []}]}', 3)).toBe('the JSON body nests deeper than 3 levels');
    expect(check('"text"', 0)).toBeUndefined();
    expect(check(nested(128))).toBeUndefined();
    expect(check(nested(129))).toMatch(/deeper than 128/);
    expect(check(nested(10_000))).toMatch(/deeper than 128/);
  });

  it('is not fooled by brackets, quotes and backslashes inside strings', () => {
    expect(check(`{"a": "${'['.repeat(500)}", "b": "\\"{[", "c": "\\\\", "d": 1}`, 2)).toBeUndefined();
  });
});

describe('structuralProblem: repeated keys', () => {
  it('refuses a key repeated with another value, naming the key and where it is', () => {
    const problem = check('{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "messages": []}');
    expect(problem).toBe('the JSON body repeats the key "messages" in $ with a different value: which copy a provider reads is not defined');
    expect(check('{"params": {"name": "web_search", "arguments": {}, "name": "delete_database"}}')).toMatch(/key "name" in \$\."params"/);
    expect(check('{"tools": [{"a": 1}, {"type": "function", "type": "custom"}]}')).toMatch(/key "type" in \$\."tools"\[1\]/);
  });

  it('reads keys as JSON.parse does: an escaped spelling is the same key', () => {
    expect(check('{"messages": [1], "mess\\u0061ges": [2]}')).toMatch(/key "messages"/);
  });

  it('lets a repeated key with the same value through, however it is spaced', () => {
    expect(check('{"stream": true, "stream": true}')).toBeUndefined();
    expect(check('{"a": [1, 2], "a":[1,2]}')).toBeUndefined();
    expect(check('{"a": {"x": "\\u0041"}, "a": {"x": "A"}}')).toBeUndefined();
  });

  it('does not confuse the same key in sibling objects, or a key-like string value, with a repeat', () => {
    expect(check('{"messages": [{"role": "user"}, {"role": "assistant"}], "role": "x"}')).toBeUndefined();
    expect(check('{"a": "\\"a\\": 2", "b": {}, "c": {"a": 1}}')).toBeUndefined();
    expect(check('{}')).toBeUndefined();
    expect(check('[{}, {"a": 1}, {"a": 2}]')).toBeUndefined();
  });

  it('never quotes a value in its message, and cuts a long key', () => {
    const problem = check(`{"${'k'.repeat(200)}": "sk-secret-1", "${'k'.repeat(200)}": "sk-secret-2"}`)!;
    expect(problem).not.toMatch(/sk-secret/);
    expect(problem.length).toBeLessThan(220);
  });
});

describe('closedPrefix', () => {
  const answer = JSON.stringify({
    id: 'c1',
    choices: [{ index: 0, message: { role: 'assistant', tool_calls: [{ id: 't1', type: 'function', function: { name: 'delete_database', arguments: '{"table": "users"}' } }] } }],
    usage: { prompt_tokens: 5 },
  });

  it('closes every prefix of a JSON text into JSON that keeps what was complete', () => {
    for (let n = 1; n <= answer.length; n++) {
      const closed = closedPrefix(answer.slice(0, n));
      if (closed === undefined) continue;
      expect(() => JSON.parse(closed), `prefix of ${n}`).not.toThrow();
    }
    expect(closedPrefix(answer)).toBe(answer);
  });

  it('keeps a tool call whose name arrived, though its arguments were cut', () => {
    const cut = answer.slice(0, answer.indexOf('"arguments"') + 15);
    expect(JSON.parse(closedPrefix(cut)!)).toEqual({
      id: 'c1',
      choices: [{ index: 0, message: { role: 'assistant', tool_calls: [{ id: 't1', type: 'function', function: { name: 'delete_database' } }] } }],
    });
  });

  it('is not fooled by brackets and escaped quotes in strings, and gives up before the first container', () => {
    expect(closedPrefix('{"a": "]}\\"[", "b": [1, 2')).toBe('{"a": "]}\\"[", "b": [1]}');
    expect(closedPrefix('  "just a string')).toBeUndefined();
    expect(closedPrefix('[')).toBe('[]');
  });
});
