// The one Server-Sent Events framer every SSE adapter uses. It cuts the byte stream into events at
// blank lines, keeping each event's exact bytes (the proxy forwards whole frames untouched), and
// reads the `event:` and `data:` fields. Line ends may be \n or \r\n, mixed, split across chunks.
import type { ResponseFacts, StreamEvent, StreamFrame } from '../call.js';
import type { StreamParser } from './adapter.js';

export interface SseEvent {
  /** The frame's exact bytes, including the blank line that ended it. */
  bytes: Buffer;
  /** The `event:` field; undefined when the frame had none (the spec's default type is "message"). */
  event?: string;
  /** The `data:` lines joined with \n; '' when the frame had none (comments, keep-alives). */
  data: string;
  hasData: boolean;
  id?: string;
}

const LF = 0x0a;
const CR = 0x0d;

export class SseFramer {
  private buf: Buffer = Buffer.alloc(0);
  /** Where the next unread line starts within buf. */
  private lineStart = 0;

  push(chunk: Buffer): SseEvent[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: SseEvent[] = [];
    for (;;) {
      const nl = this.buf.indexOf(LF, this.lineStart);
      if (nl === -1) break;
      // A line holding nothing but its terminator ends the frame.
      const blank = nl === this.lineStart || (nl === this.lineStart + 1 && this.buf[this.lineStart] === CR);
      this.lineStart = nl + 1;
      if (!blank) continue;
      out.push(parseSseFrame(this.buf.subarray(0, this.lineStart)));
      this.buf = this.buf.subarray(this.lineStart);
      this.lineStart = 0;
    }
    return out;
  }

  /** The trailing bytes of a stream that ended without a blank line (parsed anyway: some servers do that). */
  end(): SseEvent[] {
    if (this.buf.length === 0) return [];
    const rest = parseSseFrame(this.buf);
    this.buf = Buffer.alloc(0);
    this.lineStart = 0;
    return [rest];
  }
}

export function parseSseFrame(bytes: Buffer): SseEvent {
  const frame: SseEvent = { bytes, data: '', hasData: false };
  const data: string[] = [];
  for (const rawLine of bytes.toString('utf8').split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') frame.event = value;
    else if (field === 'id') frame.id = value;
  }
  frame.hasData = data.length > 0;
  frame.data = data.join('\n');
  return frame;
}

/** One SSE frame as bytes, for error frames and the fake provider. */
export function encodeSse(data: string, event?: string): Buffer {
  const lines = event !== undefined ? [`event: ${event}`] : [];
  for (const line of data.split('\n')) lines.push(`data: ${line}`);
  return Buffer.from(lines.join('\n') + '\n\n', 'utf8');
}

/**
 * A StreamParser over SSE: `read` turns each frame into events (and updates whatever state the
 * adapter keeps for `facts`). `read` must not throw; if it does anyway, the frame still goes out.
 */
export function sseStreamParser(read: (frame: SseEvent) => StreamEvent[], facts: () => ResponseFacts): StreamParser {
  const framer = new SseFramer();
  const toFrame = (f: SseEvent): StreamFrame => {
    let events: StreamEvent[] = [];
    try {
      events = read(f);
    } catch {
      events = [];
    }
    return { bytes: f.bytes, events };
  };
  return {
    push: (chunk) => framer.push(chunk).map(toFrame),
    end: () => framer.end().map(toFrame),
    facts,
  };
}
