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
  /**
   * A line that is no SSE field (`{"id": ...}`, a JSON answer labelled as a stream): the spec says
   * to ignore it, but what the sidecar ignores a lenient reader may take, so such a frame is unreadable.
   */
  strange?: boolean;
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
 * ends. Lines end with CRLF, LF or a bare CR, as the SSE spec allows and the SDKs read them; a
 * blank line ends the event. An event may hold at most `maxEventBytes`.
 */
export class SseFramer {
  /** The current (unfinished) event's bytes from earlier chunks. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of the current line so far (terminators excluded). */
  private lineBytes = 0;
  /** The last byte seen was a CR: an LF right after it ends nothing (it is the rest of a CRLF). */
  private afterCr = false;
  /** The last chunk ended on the CR that ended an event: it goes out with the next chunk's first byte, if that is its LF. */
  private endedAtCr = false;

  constructor(private readonly maxEventBytes = MAX_SSE_EVENT_BYTES) {}

  push(chunk: Buffer): SseEvent[] {
    const out: SseEvent[] = [];
    let frameStart = 0;
    let from = 0;
    // An event that ended with a CR as the last chunk ended: its CRLF's LF, if one comes, is its own.
    if (this.endedAtCr) {
      this.endedAtCr = false;
      if (chunk[0] === LF) from = 1;
      this.afterCr = false;
      out.push(this.emit(chunk.subarray(0, from)));
      frameStart = from;
    }
    // The next CR and LF at or after `from`, each searched for again only once passed: linear.
    let cr = chunk.indexOf(CR, from);
    let lf = chunk.indexOf(LF, from);
    while (from < chunk.length) {
      if (cr !== -1 && cr < from) cr = chunk.indexOf(CR, from);
      if (lf !== -1 && lf < from) lf = chunk.indexOf(LF, from);
      const at = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (at === -1) {
        this.afterCr = false;
        this.lineBytes += chunk.length - from;
        break;
      }
      const isLf = chunk[at] === LF;
      const lfOfCrlf = isLf && at === from && this.afterCr;
      this.lineBytes += at - from;
      from = at + 1;
      this.afterCr = !isLf;
      if (lfOfCrlf) continue;
      // A line ends here; one that held nothing ends the event (with the LF of its CRLF).
      const blank = this.lineBytes === 0;
      this.lineBytes = 0;
      if (!blank) continue;
      if (!isLf) {
        if (from === chunk.length) {
          this.endedAtCr = true;
          break;
        }
        if (chunk[from] === LF) from++;
        this.afterCr = false;
      }
      out.push(this.emit(chunk.subarray(frameStart, from)));
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

  /** The event whose bytes are what is pending plus `tail`. */
  private emit(tail: Buffer): SseEvent {
    const bytes = this.pending.length === 0 ? tail : Buffer.concat([...this.pending, tail], this.pendingBytes + tail.length);
    this.pending = [];
    this.pendingBytes = 0;
    return parseSseFrame(bytes);
  }

  /** The trailing bytes of a stream that ended without a blank line (parsed anyway: some servers do that). */
  end(): SseEvent[] {
    const ended = this.endedAtCr;
    this.endedAtCr = false;
    this.lineBytes = 0;
    this.afterCr = false;
    if (this.pendingBytes === 0) return [];
    const rest = this.emit(Buffer.alloc(0));
    return ended || rest.bytes.length > 0 ? [rest] : [];
  }
}

export function parseSseFrame(bytes: Buffer): SseEvent {
  const frame: SseEvent = { bytes, data: '', hasData: false };
  const data: string[] = [];
  for (const line of linesOf(bytes.toString('utf8'))) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') frame.event = value;
    else if (field === 'id') frame.id = value;
    else if (field !== 'retry') frame.strange = true;
  }
  frame.hasData = data.length > 0;
  frame.data = data.length === 1 ? data[0]! : data.join('\n');
  return frame;
}

/**
 * The lines of a text ending with CRLF, LF or CR, found with indexOf (a regex split of one 8 MiB
 * event held the event loop ~15 ms): the next CR and LF are each searched for again only once passed.
 */
function* linesOf(text: string): Generator<string> {
  let cr = text.indexOf('\r');
  let lf = text.indexOf('\n');
  for (let at = 0; at <= text.length; ) {
    if (cr !== -1 && cr < at) cr = text.indexOf('\r', at);
    if (lf !== -1 && lf < at) lf = text.indexOf('\n', at);
    const end = cr === -1 ? (lf === -1 ? text.length : lf) : lf === -1 ? cr : Math.min(cr, lf);
    yield text.slice(at, end);
    at = end + (end === cr && lf === cr + 1 ? 2 : 1);
  }
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
    if (f.strange) return { bytes: f.bytes, events: [], unreadable: 'it holds lines that are not server-sent event fields' };
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
