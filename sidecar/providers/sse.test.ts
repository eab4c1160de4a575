import { describe, expect, it } from 'vitest';
import { encodeSse, parseSseFrame, SseEventTooLarge, SseFramer, sseStreamParser } from './sse.js';
import { cuttings } from './testing.js';
import { SeededRandom } from '../../lib/seeded-random.js';

function frameAll(chunks: Buffer[]) {
  const framer = new SseFramer();
  const frames = chunks.flatMap((c) => framer.push(c));
  return [...frames, ...framer.end()];
}

describe('SseFramer', () => {
  const stream = Buffer.from(
    'event: message_start\ndata: {"a":1}\n\n' +
      ': keep-alive comment\n\n' +
      'data: line one\r\ndata: line two\r\n\r\n' +
      'event: x\r\ndata:no-space\r\nid: 7\r\n\r\n' +
      'data: [DONE]\n\n',
  );

  for (const { name, chunks } of cuttings(stream)) {
    it(`frames the same whatever the chunking (${name})`, () => {
      const frames = frameAll(chunks);
      expect(Buffer.concat(frames.map((f) => f.bytes)).equals(stream)).toBe(true);
      expect(frames.map((f) => [f.event, f.data, f.hasData])).toEqual([
        ['message_start', '{"a":1}', true],
        [undefined, '', false],
        [undefined, 'line one\nline two', true],
        ['x', 'no-space', true],
        [undefined, '[DONE]', true],
      ]);
      expect(frames[3]!.id).toBe('7');
      expect(frames[0]!.bytes.toString()).toBe('event: message_start\ndata: {"a":1}\n\n');
    });
  }

  it('holds a partial frame until its blank line arrives', () => {
    const framer = new SseFramer();
    expect(framer.push(Buffer.from('data: {"x":'))).toEqual([]);
    expect(framer.push(Buffer.from('1}\n'))).toEqual([]);
    expect(framer.push(Buffer.from('\r'))).toEqual([]); // \r of a \r\n blank line
    const [f] = framer.push(Buffer.from('\n'));
    expect(f?.data).toBe('{"x":1}');
  });

  it('returns a trailing frame without blank line at the end, parsed', () => {
    const framer = new SseFramer();
    framer.push(Buffer.from('data: a\n\ndata: tail'));
    const rest = framer.end();
    expect(rest).toHaveLength(1);
    expect(rest[0]!.data).toBe('tail');
    expect(rest[0]!.bytes.toString()).toBe('data: tail');
    expect(framer.end()).toEqual([]);
  });

  it('keeps multi-byte characters split across chunks intact', () => {
    const bytes = Buffer.from('data: héllo 👋\n\n');
    const frames = frameAll([...bytes].map((b) => Buffer.from([b])));
    expect(frames[0]!.data).toBe('héllo 👋');
  });
});

describe('encodeSse', () => {
  it('writes event and multi-line data that parse back', () => {
    const bytes = encodeSse('a\nb', 'error');
    expect(bytes.toString()).toBe('event: error\ndata: a\ndata: b\n\n');
    expect(parseSseFrame(bytes)).toMatchObject({ event: 'error', data: 'a\nb' });
  });
});

describe('SseFramer bounds', () => {
  it('frames the same wherever the chunks are cut, CRLF and LF mixed', () => {
    const text = 'event: a\r\ndata: 1\r\n\r\ndata: 2\n\n: keep-alive\n\ndata: x\r\ndata: y\n\r\n';
    const whole = frameAll([Buffer.from(text)]).map((f) => f.bytes.toString());
    expect(whole).toHaveLength(4);
    for (let i = 1; i < text.length; i++) {
      for (let j = i; j < text.length; j++) {
        const parts = [text.slice(0, i), text.slice(i, j), text.slice(j)].filter((p) => p.length > 0).map((p) => Buffer.from(p));
        expect(frameAll(parts).map((f) => f.bytes.toString()), `cut at ${i}, ${j}`).toEqual(whole);
      }
    }
  });

  it('refuses to hold an event past its limit, instead of buffering an endless one', () => {
    const framer = new SseFramer(1024);
    expect(framer.push(Buffer.from(`data: ${'x'.repeat(900)}`))).toEqual([]);
    expect(() => framer.push(Buffer.from('y'.repeat(200)))).toThrow(SseEventTooLarge);
  });

  it('frames a 12 MB event that arrives in 64 KB chunks once it ends', () => {
    const framer = new SseFramer(16 * 1024 * 1024);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let frames = framer.push(Buffer.from('data: '));
    for (let i = 0; i < 192; i++) frames = frames.concat(framer.push(chunk));
    frames = frames.concat(framer.push(Buffer.from('\n\n')));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.bytes.length).toBe(6 + 192 * 64 * 1024 + 2);
  });
});

describe('SseFramer: every line end the spec allows', () => {
  const stream = 'event: a\rdata: 1\r\rdata: 2\r\ndata: 3\n\r\ndata: {"x": 4}\n\n';
  const frames = (chunks: Buffer[]) => {
    const f = new SseFramer();
    return [...chunks.flatMap((c) => f.push(c)), ...f.end()];
  };

  it('ends lines at a bare CR too (the SDKs do), and keeps the bytes whole and in order, wherever the chunks are cut', () => {
    const whole = Buffer.from(stream);
    const one = frames([whole]);
    expect(one.map((f) => [f.event, f.data])).toEqual([
      ['a', '1'],
      [undefined, '2\n3'],
      [undefined, '{"x": 4}'],
    ]);
    for (let cut = 1; cut < whole.length; cut++) {
      const split = frames([whole.subarray(0, cut), whole.subarray(cut)]);
      expect(split.map((f) => f.bytes.toString()), `cut at ${cut}`).toEqual(one.map((f) => f.bytes.toString()));
    }
    expect(Buffer.concat(one.map((f) => f.bytes)).equals(whole)).toBe(true);
  });

  it('marks a frame with lines that are no SSE field unreadable (JSON labelled as a stream)', () => {
    const parser = sseStreamParser(() => [], () => ({ toolCalls: [], texts: [] }));
    const out = [...parser.push(Buffer.from('{"choices": [{"message": {"tool_calls": []}}]}\n\nretry: 10\ndata: ok\n\n')), ...parser.end()];
    expect(out.map((f) => f.unreadable)).toEqual(['it holds lines that are not server-sent event fields', undefined]);
  });
});

describe('parseSseFrame lines', () => {
  /** The SSE spec's reading of a frame's lines, as a regex split: what the indexOf walk must equal. */
  function reference(text: string) {
    const data: string[] = [];
    let event: string | undefined;
    let strange = false;
    for (const line of text.split(/\r\n|\r|\n/)) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = (colon === -1 ? '' : line.slice(colon + 1)).replace(/^ /, '');
      if (field === 'data') data.push(value);
      else if (field === 'event') event = value;
      else if (field !== 'id' && field !== 'retry') strange = true;
    }
    return { data: data.join('\n'), hasData: data.length > 0, event, strange };
  }

  it('reads every mix of CR, LF and CRLF line ends as the spec does', () => {
    // Seeded: every frame built from pieces that stress line ends at every position.
    const random = new SeededRandom(7);
    const pieces = ['data', 'event', ':', ' ', 'x', '\r', '\n', '\r\n', 'é', 'id', 'retry'];
    for (let i = 0; i < 3000; i++) {
      const text = Array.from({ length: random.int(12) }, () => random.pick(pieces)).join('');
      const f = parseSseFrame(Buffer.from(text));
      const want = reference(text);
      expect({ data: f.data, hasData: f.hasData, event: f.event, strange: f.strange ?? false }, JSON.stringify(text)).toEqual(want);
    }
  });
});
