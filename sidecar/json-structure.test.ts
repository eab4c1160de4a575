import { describe, expect, it } from 'vitest';
import { JSON_BOUNDS } from './json-pieces.js';
import { closedPrefix, structuralProblem, structuralProblemInPieces, structuralProblemSteps } from './json-structure.js';

const check = (text: string, depth = 128): string | undefined => {
  JSON.parse(text); // the scanner only ever sees what JSON.parse accepted
  return structuralProblem(text, { ...JSON_BOUNDS, maxDepth: depth });
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

describe('structuralProblem in steps', () => {
  /** Runs the steps to the end, counting the yields. */
  const stepped = (text: string, bounds = { ...JSON_BOUNDS, maxKeys: 1_000_000 }): { problem: string | undefined; yields: number } => {
    const steps = structuralProblemSteps(text, bounds);
    let yields = 0;
    for (;;) {
      const step = steps.next();
      if (step.done) return { problem: step.value, yields };
      yields++;
    }
  };

  it('refuses an object of more keys, or an array of more elements, than its bound; counts only distinct keys', () => {
    const object = (n: number, extra = '') => `{"model": "m", "metadata": {${Array.from({ length: n }, (_, i) => `"k${i}": ${i}`).join(', ')}${extra}}}`;
    expect(structuralProblem(object(JSON_BOUNDS.maxKeys))).toBeUndefined();
    expect(structuralProblem(object(JSON_BOUNDS.maxKeys, ', "k0": 0'))).toBeUndefined();
    expect(structuralProblem(object(JSON_BOUNDS.maxKeys + 1))).toBe(`the JSON body has an object of more than ${JSON_BOUNDS.maxKeys} keys`);
    const array = (n: number) => `{"input": [${'7,'.repeat(n - 1)}7]}`;
    expect(structuralProblem(array(JSON_BOUNDS.maxItems))).toBeUndefined();
    expect(structuralProblem(array(JSON_BOUNDS.maxItems + 1))).toBe(`the JSON body has an array of more than ${JSON_BOUNDS.maxItems} elements`);
    // Many objects each under the bound are fine: the bound is per object.
    expect(structuralProblem(`[${Array.from({ length: 3 }, () => object(JSON_BOUNDS.maxKeys)).join(',')}]`)).toBeUndefined();
  });

  it('reads an object of 200,000 distinct keys in many steps, with the same result', () => {
    const members = Array.from({ length: 200_000 }, (_, i) => `"key${i}": ${i}`);
    const text = `{${members.join(', ')}}`;
    expect(text.length).toBeGreaterThan(2 << 20);
    const whole = stepped(text);
    expect(whole).toEqual({ problem: undefined, yields: expect.any(Number) });
    expect(whole.yields).toBeGreaterThanOrEqual(8);
    const repeated = stepped(`{${members.join(', ')}, "key7": 8}`);
    expect(repeated.problem).toBe('the JSON body repeats the key "key7" in $ with a different value: which copy a provider reads is not defined');
    expect(repeated.yields).toBeGreaterThanOrEqual(8);
  });

  it('compares large repeated values in steps, as the whole check does', () => {
    const items = Array.from({ length: 40_000 }, (_, i) => ({ i, s: `v\u00e9${i}` }));
    const compact = JSON.stringify(items);
    const spaced = JSON.stringify(items, null, 1);
    const changed = compact.replace('"i":39999', '"i":-1');
    const same = `{"a": ${compact}, "a": ${spaced}}`;
    const differs = `{"a": ${compact}, "b": 1, "a": ${changed}}`;
    expect(stepped(same).problem).toBeUndefined();
    expect(structuralProblem(same)).toBeUndefined();
    expect(stepped(differs).problem).toMatch(/repeats the key "a" in \$/);
    expect(structuralProblem(differs)).toMatch(/repeats the key "a" in \$/);
    // Reading the text takes one step per 256 Ki characters; comparing the copies takes as many again.
    expect(stepped(same).yields).toBeGreaterThan((1.5 * same.length) / (256 * 1024));
  });

  it('gives the same answers paused as whole', async () => {
    let pauses = 0;
    const pause = async (): Promise<void> => {
      pauses++;
    };
    for (const text of ['{"a": [1, {"b": []}]}', '{"messages": [1], "mess\\u0061ges": [2]}', '{"stream": true, "stream": true}', `[${'{"x": 1, "x": 1},'.repeat(30_000)}{}]`]) {
      expect(await structuralProblemInPieces(text, { ...JSON_BOUNDS, maxDepth: 3 }, pause)).toBe(structuralProblem(text, { ...JSON_BOUNDS, maxDepth: 3 }));
      expect(await structuralProblemInPieces(text, JSON_BOUNDS, pause)).toBe(structuralProblem(text));
    }
    expect(pauses).toBeGreaterThan(0);
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
    // Nesting past the bound is not made whole: a reader refuses it (and 32 MiB of '[' would not fit in one call's arguments).
    expect(closedPrefix('['.repeat(200_000))).toBeUndefined();
    expect(closedPrefix(`${'['.repeat(5)}1,`, 5)).toBe('[[[[[1]]]]]');
    expect(closedPrefix(`${'['.repeat(6)}1,`, 5)).toBeUndefined();
  });
});
