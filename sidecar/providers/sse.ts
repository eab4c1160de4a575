// The one Server-Sent Events framer every SSE adapter uses. It cuts the byte stream into events at
// blank lines, keeping each event's exact bytes (the proxy forwards whole frames untouched), and
// reads the `event:` and `data:` fields. Line ends may be \n or \r\n, mixed, split across chunks.
import type { ResponseFacts, StreamEvent, StreamFrame } from '../call.js';
import { UnreadableStream, type StreamParser } from './adapter.js';
import { UnreadableFrame } from './util.js';

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

/** The largest SSE event the framer holds while waiting for its end (a hostile upstream's one endless event). */
export const MAX_SSE_EVENT_BYTES = 8 * 1024 * 1024;

/** An upstream SSE event grew past MAX_SSE_EVENT_BYTES without ending: the stream is cut, not buffered on. */
export class SseEventTooLarge extends UnreadableStream {
  constructor(readonly limit: number) {
    super(`a server-sent event exceeded ${limit} bytes without ending`);
    this.name = 'SseEventTooLarge';
  }
}

/**
 * Cuts a byte stream into SSE events in time linear in the bytes: each byte is looked at once (the
 * state of the current line carries across chunks), and an event's bytes are joined once, when it
 * ends. An event may hold at most `maxEventBytes`.
 */
export class SseFramer {
  /** The current (unfinished) event's bytes from earlier chunks. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of the current line so far, and whether they are exactly one CR (a \r\n blank line, split). */
  private lineBytes = 0;
  private lineIsCr = false;

  constructor(private readonly maxEventBytes = MAX_SSE_EVENT_BYTES) {}

  push(chunk: Buffer): SseEvent[] {
    const out: SseEvent[] = [];
    let frameStart = 0;
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(LF, from);
      const end = nl === -1 ? chunk.length : nl;
      const segment = end - from;
      // The line so far: one CR only when it was empty and this adds exactly a CR, or it was a CR and this adds nothing.
      this.lineIsCr = (this.lineBytes === 0 && segment === 1 && chunk[from] === CR) || (this.lineIsCr && segment === 0);
      this.lineBytes += segment;
      if (nl === -1) break;
      // A line holding nothing but its terminator ends the frame.
      const blank = this.lineBytes === 0 || (this.lineBytes === 1 && this.lineIsCr);
      this.lineBytes = 0;
      this.lineIsCr = false;
      from = nl + 1;
      if (!blank) continue;
      const tail = chunk.subarray(frameStart, from);
      const bytes = this.pending.length === 0 ? tail : Buffer.concat([...this.pending, tail], this.pendingBytes + tail.length);
      this.pending = [];
      this.pendingBytes = 0;
      out.push(parseSseFrame(bytes));
      frameStart = from;
    }
    if (frameStart < chunk.length) {
      const rest = chunk.subarray(frameStart);
      this.pending.push(rest);
      this.pendingBytes += rest.length;
      if (this.pendingBytes > this.maxEventBytes) throw new SseEventTooLarge(this.maxEventBytes);
    }
    return out;
  }

  /** The trailing bytes of a stream that ended without a blank line (parsed anyway: some servers do that). */
  end(): SseEvent[] {
    if (this.pendingBytes === 0) return [];
    const rest = parseSseFrame(Buffer.concat(this.pending, this.pendingBytes));
    this.pending = [];
    this.pendingBytes = 0;
    this.lineBytes = 0;
    this.lineIsCr = false;
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
 * adapter keeps for `facts`). When `read` throws (UnreadableFrame: data not in the format's shape;
 * anything else: a bug) the frame is marked unreadable: where answers are checked it does not go out.
 */
export function sseStreamParser(read: (frame: SseEvent) => StreamEvent[], facts: () => ResponseFacts): StreamParser {
  const framer = new SseFramer();
  const toFrame = (f: SseEvent): StreamFrame => {
    try {
      return { bytes: f.bytes, events: read(f) };
    } catch (err) {
      return { bytes: f.bytes, events: [], unreadable: err instanceof UnreadableFrame ? err.message : 'the sidecar could not read it' };
    }
  };
  return {
    push: (chunk) => framer.push(chunk).map(toFrame),
    end: () => framer.end().map(toFrame),
    facts,
  };
}
