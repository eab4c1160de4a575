// A fake LLM and MCP upstream for integration tests, the demo and benchmarks. Plain node:http(s):
// no framework, so its own overhead stays out of the measurements.
//
// Routes (any host):
//   POST .../chat/completions            OpenAI Chat Completions (JSON, or SSE when stream: true)
//   POST .../responses                   OpenAI Responses
//   POST .../v1/messages                 Anthropic Messages
//   POST /model/{id}/converse[-stream]   Bedrock Converse (JSON, or AWS event-stream)
//   POST /model/{id}/invoke[-with-response-stream]  Bedrock InvokeModel (bedrock-invoke.ts: Claude, Nova, Llama, Titan; JSON, or event-stream chunks)
//   POST .../models/{m}:generateContent  Gemini (gemini.ts; :streamGenerateContent: SSE with ?alt=sse, else a JSON array)
//   ANY  .../completions, embeddings,    OpenAI's other endpoints (openai-endpoints.ts): legacy completions
//        moderations, audio/speech,      (JSON or SSE), embeddings, moderations, speech (audio bytes), images,
//        images/*, assistants, threads/*, the Assistants API (runs with requires_action; JSON or SSE), batches,
//        batches, realtime/*             realtime sessions and client secrets
//   POST (JSON-RPC body, any path)       MCP streamable HTTP
//   ANY  /status/{code}[/...]            answers that status, OpenAI error shape
//   ANY  /hang                           never answers
//   ANY  /slow-stream                    an SSE frame every 200 ms for ~2 s
//   anything else                        404, OpenAI error shape
//   WebSocket upgrades                   realtime.ts: OpenAI Realtime (.../realtime), an echo (/echo)
//
// Request headers that steer it (any route):
//   x-fake-sse: 1                        MCP: answer in SSE
//   x-fake-answer-headers: {JSON}        add these headers to the answer (e.g. forged X-Chaperone-*)
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { bedrockInvoke } from './bedrock-invoke.js';
import { geminiReply } from './gemini.js';
import { isJsonRpc, MCP_SESSION_ID, mcpResponses, wantsSse } from './mcp.js';
import { openAiEndpoints } from './openai-endpoints.js';
import { attachRealtime } from './realtime.js';
import { anthropicMessages, chatCompletions, converse, openAiErrorBody, responses, type Reply } from './wire.js';

export interface FakeProviderOptions {
  tls?: { cert: string; key: string };
  /** Wait this long before answering any request. */
  delayMs?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Pause between stream frames, so tests see chunk-by-chunk delivery. Default 5 ms. */
  streamGapMs?: number;
  /** Called with each request as it is recorded (the CLI's --log-requests: a test reads a pod's log). */
  onRequest?: (request: ReceivedRequest) => void;
}

export interface ReceivedRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json?: unknown;
}

export interface FakeProvider {
  url: string;
  port: number;
  received: ReceivedRequest[];
  close(): Promise<void>;
  setDelay(ms: number): void;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

const BEDROCK_PATH = /^\/model\/[^/]+\/(converse|converse-stream|invoke|invoke-with-response-stream)$/;
const SLOW_FRAMES = 10;
const SLOW_GAP_MS = 200;

export async function startFakeProvider(opts: FakeProviderOptions = {}): Promise<FakeProvider> {
  let delayMs = opts.delayMs ?? 0;
  const gapMs = opts.streamGapMs ?? 5;
  const received: ReceivedRequest[] = [];
  let counter = 0;
  const openAiOther = openAiEndpoints(); // its threads, runs... live as long as this server

  // Every pending pause, so close() can cut them short instead of keeping the process alive.
  const sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const s = { timer: setTimeout(() => wake(), ms), wake: () => wake() };
      const wake = () => {
        clearTimeout(s.timer);
        sleepers.delete(s);
        resolve();
      };
      sleepers.add(s);
    });

  const gone = (res: ServerResponse) => res.destroyed || res.writableEnded;

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const sendFrames = async (res: ServerResponse, contentType: string, frames: Buffer[], gap: number, headers: Record<string, string> = {}) => {
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache', ...headers });
    for (let i = 0; i < frames.length; i++) {
      if (gone(res)) return;
      if (i > 0) await sleep(gap);
      if (gone(res)) return;
      res.write(frames[i]!);
    }
    res.end();
  };

  const send = (res: ServerResponse, reply: Reply, headers: Record<string, string> = {}) =>
    reply.kind === 'json' ? sendJson(res, reply.status ?? 200, reply.body, { ...reply.headers, ...headers }) : sendFrames(res, reply.contentType, reply.frames, gapMs, headers);

  /** The format's own 400 for a body that is not a JSON object. */
  const badBody = (res: ServerResponse, path: string) => {
    const message = 'request body must be a JSON object';
    if (path.endsWith('/v1/messages')) return sendJson(res, 400, { type: 'error', error: { type: 'invalid_request_error', message } });
    if (BEDROCK_PATH.test(path)) return sendJson(res, 400, { message }, { 'x-amzn-ErrorType': 'ValidationException' });
    return sendJson(res, 400, openAiErrorBody(message, 'invalid_request_error', null));
  };

  async function route(req: IncomingMessage, res: ServerResponse, rec: ReceivedRequest): Promise<void> {
    const url = new URL(rec.path, 'http://fake');
    const path = url.pathname;
    const method = rec.method;

    // A prefix, so an SDK's baseURL can point at it: /status/503/v1/chat/completions answers 503.
    const status = /^\/status\/(\d{3})(?:\/|$)/.exec(path);
    if (status) {
      const code = Number(status[1]);
      return sendJson(res, code, openAiErrorBody(`fake status ${code}`, code >= 500 ? 'server_error' : 'invalid_request_error', `fake_${code}`));
    }
    if (path === '/hang') return; // the socket stays open until the client or close() ends it
    if (path === '/slow-stream') {
      const frames = Array.from({ length: SLOW_FRAMES }, (_, i) =>
        Buffer.from(`data: ${JSON.stringify({ id: 'chatcmpl-slow', object: 'chat.completion.chunk', created: 0, model: 'fake-slow', choices: [{ index: 0, delta: { content: `tick ${i} ` }, finish_reason: null }] })}\n\n`),
      );
      frames.push(Buffer.from('data: [DONE]\n\n'));
      return sendFrames(res, 'text/event-stream', frames, SLOW_GAP_MS);
    }

    // OpenAI's other endpoints (completions, embeddings, assistants, threads...): openai-endpoints.ts.
    const other = openAiOther.answer({ ...rec, path }, () => ++counter);
    if (other) return send(res, other);

    if (method === 'POST') {
      const body = rec.json;
      const n = ++counter;
      const gemini = geminiReply(url, body, n); // Gemini paths, with their own 400s (gemini.ts)
      if (gemini) return send(res, gemini);
      const isLlm = path.endsWith('/chat/completions') || path.endsWith('/responses') || path.endsWith('/v1/messages') || BEDROCK_PATH.test(path);
      if (isLlm && !isObj(body)) return badBody(res, path);
      if (isObj(body) && path.endsWith('/chat/completions')) return send(res, chatCompletions(body, n));
      if (isObj(body) && path.endsWith('/responses')) return send(res, responses(body, n));
      if (isObj(body) && path.endsWith('/v1/messages')) return send(res, anthropicMessages(body, n), { 'request-id': `req_fake${n}` });
      const bedrock = BEDROCK_PATH.exec(path);
      if (isObj(body) && bedrock) return send(res, bedrock[1]!.startsWith('invoke') ? bedrockInvoke(path, body, n) : converse(body, n, bedrock[1] === 'converse-stream'));
      if (isJsonRpc(body)) {
        const answers = mcpResponses(body);
        const session = { 'mcp-session-id': MCP_SESSION_ID };
        if (answers.length === 0) {
          res.writeHead(202, session).end(); // only notifications or responses: accepted, nothing to say
          return;
        }
        if (wantsSse(req.headers.accept, header(req.headers['x-fake-sse']))) {
          const frames = answers.map((a) => Buffer.from(`event: message\ndata: ${JSON.stringify(a)}\n\n`));
          return sendFrames(res, 'text/event-stream', frames, gapMs, session);
        }
        return sendJson(res, 200, Array.isArray(body) ? answers : answers[0], session);
      }
    }
    // A GET for the MCP server-to-client stream: this server offers none, as the spec allows.
    if (method === 'GET' && header(req.headers.accept)?.includes('text/event-stream')) {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    return sendJson(res, 404, openAiErrorBody(`fake provider: no route for ${method} ${path}`, 'invalid_request_error', 'not_found'));
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const rec: ReceivedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body };
      if (body !== '') {
        try {
          rec.json = JSON.parse(body) as unknown;
        } catch {
          // not JSON: recorded as text only
        }
      }
      received.push(rec);
      opts.onRequest?.(rec);
      // Headers set here are merged into whatever the route writes (writeHead keeps them).
      for (const [name, value] of Object.entries(answerHeaders(header(req.headers['x-fake-answer-headers'])))) res.setHeader(name, value);
      const answer = async () => {
        if (delayMs > 0) await sleep(delayMs);
        if (!gone(res)) await route(req, res, rec);
      };
      answer().catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, openAiErrorBody(`fake provider failed: ${String(err)}`, 'server_error', null));
        else res.destroy();
      });
    });
  };

  const server: Server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler) : createHttpServer(handler);
  attachRealtime(server, (rec) => {
    received.push(rec);
    opts.onRequest?.(rec);
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `${opts.tls ? 'https' : 'http'}://${urlHost}:${port}`,
    port,
    received,
    setDelay: (ms) => {
      delayMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Hung requests and open streams would otherwise hold close() forever.
        server.closeAllConnections();
        for (const s of [...sleepers]) s.wake();
      }),
  };
}

/** The x-fake-answer-headers request header: a JSON object of string values (anything else: none). */
function answerHeaders(v: string | undefined): Record<string, string> {
  if (!v) return {};
  try {
    const parsed = JSON.parse(v) as unknown;
    return isObj(parsed) ? Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string')) : {};
  } catch {
    return {};
  }
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
