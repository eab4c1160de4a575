// Test helpers shared by the adapter tests: feed a stream parser the same bytes cut in many ways.
import type { ResponseFacts, StreamEvent, StreamFrame } from '../call.js';
import type { StreamParser } from './adapter.js';

/** Deterministic pseudo-random numbers, so a failing random chunking can be replayed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

/** Ways to cut a byte stream: whole, byte by byte, and a few seeded random cuttings. */
export function cuttings(bytes: Buffer): { name: string; chunks: Buffer[] }[] {
  const out = [
    { name: 'whole', chunks: [bytes] },
    { name: '1-byte', chunks: [...bytes].map((b) => Buffer.from([b])) },
  ];
  for (const seed of [1, 2, 3, 42]) {
    const next = rng(seed);
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; ) {
      const n = 1 + Math.floor(next() * 40);
      chunks.push(bytes.subarray(at, at + n));
      at += n;
    }
    out.push({ name: `random seed ${seed}`, chunks });
  }
  return out;
}

export interface Fed {
  frames: StreamFrame[];
  events: StreamEvent[];
  facts: ResponseFacts;
}

export function feed(parser: StreamParser, chunks: Buffer[]): Fed {
  const frames: StreamFrame[] = [];
  for (const c of chunks) frames.push(...parser.push(c));
  frames.push(...parser.end());
  return { frames, events: frames.flatMap((f) => f.events), facts: parser.facts() };
}

/** Feeds every cutting to a fresh parser and checks the frames always join back to the input. */
export function feedAll(make: () => StreamParser, bytes: Buffer): { name: string; fed: Fed }[] {
  return cuttings(bytes).map(({ name, chunks }) => {
    const fed = feed(make(), chunks);
    const joined = Buffer.concat(fed.frames.map((f) => f.bytes));
    if (!joined.equals(bytes)) throw new Error(`${name}: frames do not add up to the input`);
    return { name, fed };
  });
}

/** An SSE stream body from (event, data) pairs, the way providers write them. */
export function sse(frames: Array<[string | undefined, unknown]>, eol = '\n'): Buffer {
  return Buffer.from(
    frames
      .map(([event, data]) => (event !== undefined ? `event: ${event}${eol}` : '') + `data: ${typeof data === 'string' ? data : JSON.stringify(data)}${eol}${eol}`)
      .join(''),
  );
}
