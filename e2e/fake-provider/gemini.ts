// The fake provider's Gemini API: generateContent (JSON) and streamGenerateContent (SSE with ?alt=sse,
// else one JSON array written element by element, as Google does), at `.../models/{model}:{method}`
// (the Gemini API's /v1beta/models/..., Vertex AI's .../publishers/google/models/...). The shapes
// follow Google's API reference closely enough that @google/genai parses them.
//
// Like the rest of the fake it reads request bodies with its own few lines, not the sidecar's adapter.
import { answer, pieces, tokens, type Conversation, type Turn } from './model.js';
import type { Reply } from './wire.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const PATH = /\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;
const TEXT_PIECES = 4;

/** A field under its camelCase or its snake_case name (Google's JSON takes both). */
const pick = (o: Obj, camel: string): unknown => o[camel] ?? o[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];

/** Google's error body: {"error": {"code", "message", "status"}}. */
export function googleErrorBody(code: number, message: string, status: string): unknown {
  return { error: { code, message, status } };
}

/** The text a Content's parts carry: text parts, and function responses as JSON. */
function partsText(content: unknown): string {
  return list(isObj(content) ? content.parts : undefined)
    .map((p) => {
      if (!isObj(p)) return '';
      if (typeof p.text === 'string') return p.text;
      const response = pick(p, 'functionResponse');
      return isObj(response) ? JSON.stringify(response.response ?? {}) : '';
    })
    .join('');
}

export function geminiConversation(body: Obj): Conversation {
  const system = pick(body, 'systemInstruction');
  const turns: Turn[] = list(body.contents)
    .filter(isObj)
    .map((c) => ({
      role: c.role === 'model' ? 'assistant' : 'user',
      text: partsText(c),
      toolResult: list(c.parts).some((p) => isObj(p) && isObj(pick(p, 'functionResponse'))),
    }));
  return { system: system === undefined ? [] : [partsText(system)], turns };
}

/**
 * The answer to a Gemini call, or undefined when the path is not one. `url` carries the query:
 * streamGenerateContent answers SSE only with alt=sse.
 */
export function geminiReply(url: URL, body: unknown, n: number): Reply | undefined {
  const m = PATH.exec(url.pathname);
  if (!m) return undefined;
  const bad = (message: string): Reply => ({ kind: 'json', status: 400, body: googleErrorBody(400, message, 'INVALID_ARGUMENT') });
  if (!isObj(body)) return bad('Invalid JSON payload received: the request body must be a JSON object.');
  if (!Array.isArray(body.contents)) return bad('* GenerateContentRequest.contents: contents is not specified');

  const model = m[1]!;
  const a = answer(geminiConversation(body), `fc_fake${n}`);
  const r = a.reply;
  const responseId = `fake-response-${n}`;
  const usage = (output: number | undefined) => ({
    promptTokenCount: a.usage.input,
    ...(output !== undefined && { candidatesTokenCount: output }),
    totalTokenCount: a.usage.input + (output ?? 0),
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: a.usage.input }],
  });
  const chunk = (parts: unknown[], output: number | undefined, done: boolean) => ({
    candidates: [{ content: { parts, role: 'model' }, ...(done && { finishReason: 'STOP' }), index: 0 }],
    usageMetadata: usage(output),
    modelVersion: model,
    responseId,
  });
  // Gemini sends a function call whole, arguments included, and ends the turn with STOP.
  const whole = r.kind === 'text' ? [{ text: r.text }] : [{ functionCall: { name: r.name, args: r.arguments } }];

  if (m[2] === 'generateContent') return { kind: 'json', body: chunk(whole, a.usage.output, true) };

  // Streamed: text in pieces, each chunk with the usage so far (output counted on what was sent).
  const chunks: unknown[] = [];
  if (r.kind === 'text') {
    const texts = pieces(r.text, TEXT_PIECES);
    let sent = 0;
    texts.forEach((p, i) => {
      sent += p.length;
      const last = i === texts.length - 1;
      chunks.push(chunk([{ text: p }], last ? a.usage.output : tokens(sent), last));
    });
  } else {
    chunks.push(chunk(whole, a.usage.output, true));
  }
  if (url.searchParams.get('alt') === 'sse') {
    return { kind: 'stream', contentType: 'text/event-stream', frames: chunks.map((c) => Buffer.from(`data: ${JSON.stringify(c)}\r\n\r\n`)) };
  }
  // Without alt=sse: one JSON array, its elements written as they come.
  const frames = chunks.map((c, i) => Buffer.from(`${i === 0 ? '[' : ',\r\n'}${JSON.stringify(c)}`));
  frames.push(Buffer.from(']'));
  return { kind: 'stream', contentType: 'application/json; charset=UTF-8', frames };
}
