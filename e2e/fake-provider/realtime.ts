// A fake OpenAI Realtime server (a `ws` WebSocketServer) on the fake provider's HTTP(S) server, and
// a WebSocket echo. Upgrades (any host):
//   .../realtime[?model=M]       Realtime: session.created first; session.update answered with
//                                session.updated, conversation.item.create with conversation.item.created,
//                                response.create with a response: when the last user text or the
//                                response's instructions say "call NAME", a function call of NAME
//                                (item added, two argument deltas, arguments done, item done),
//                                otherwise a text answer; response.done carries usage (11 in, 7 out).
//                                Test events: fake.malformed_frame (the server answers with a frame
//                                whose reserved bit is set), fake.huge {bytes} (a text message that long).
//   /echo[...]                   every message sent back as it came (text or binary)
//   /status/{code}[/...]         refused with that status and an OpenAI error body
//   anything else                404
// Every upgrade and every message received is recorded (method WEBSOCKET for messages).
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

export interface RealtimeRecord {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json?: unknown;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export const FAKE_REALTIME_USAGE = { input_tokens: 11, output_tokens: 7, total_tokens: 18 };

/** Serves WebSocket upgrades on `server`; `record` gets each upgrade and each message received. */
export function attachRealtime(server: Server, record: (rec: RealtimeRecord) => void): void {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true, maxPayload: 64 * 1024 * 1024 });
  // The HTTP server no longer tracks an upgraded connection: closing all of them ends the sockets too.
  const closeAll = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    for (const ws of wss.clients) ws.terminate();
    closeAll();
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = req.url ?? '/';
    const pathname = path.split('?')[0]!;
    record({ method: req.method ?? 'GET', path, headers: req.headers, body: '' });
    const status = /^\/status\/(\d{3})(?:\/|$)/.exec(pathname);
    if (status) return refuse(socket, Number(status[1]));
    if (!pathname.endsWith('/realtime') && !pathname.startsWith('/echo')) return refuse(socket, 404);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const log = (data: RawData, isBinary: boolean): void => {
        const body = isBinary ? '' : data.toString();
        let json: unknown;
        try {
          json = isBinary ? undefined : JSON.parse(body);
        } catch {
          // not JSON
        }
        record({ method: 'WEBSOCKET', path, headers: req.headers, body, ...(json !== undefined ? { json } : {}) });
      };
      if (pathname.startsWith('/echo')) {
        ws.on('message', (data, isBinary) => {
          log(data, isBinary);
          ws.send(data, { binary: isBinary });
        });
        return;
      }
      realtimeSession(ws, path, log);
    });
  });
}

function refuse(socket: Duplex, status: number): void {
  const body = JSON.stringify({ error: { message: `fake status ${status}`, type: 'invalid_request_error', code: `fake_${status}` } });
  socket.end(`HTTP/1.1 ${status} Fake\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

function realtimeSession(ws: WebSocket, path: string, log: (data: RawData, isBinary: boolean) => void): void {
  const model = new URL(path, 'http://fake').searchParams.get('model') ?? 'gpt-realtime';
  const session: Obj = { id: 'sess_fake', object: 'realtime.session', model, instructions: '', tools: [] };
  let lastUserText = '';
  let n = 0;
  const send = (type: string, fields: Obj = {}): void => ws.send(JSON.stringify({ type, event_id: `event_fake_${++n}`, ...fields }));
  send('session.created', { session });

  ws.on('message', (data, isBinary) => {
    log(data, isBinary);
    let event: unknown;
    try {
      event = JSON.parse(data.toString());
    } catch {
      return send('error', { error: { type: 'invalid_request_error', code: 'invalid_json', message: 'not JSON' } });
    }
    if (!isObj(event)) return;
    switch (event.type) {
      case 'session.update':
        if (isObj(event.session)) Object.assign(session, event.session);
        return send('session.updated', { session });
      case 'conversation.item.create': {
        const item = isObj(event.item) ? event.item : {};
        for (const part of Array.isArray(item.content) ? item.content : []) if (isObj(part) && typeof part.text === 'string') lastUserText = part.text;
        return send('conversation.item.created', { item: { id: `item_${n}`, ...item } });
      }
      case 'response.create':
        return respond(isObj(event.response) ? event.response : {});
      case 'fake.malformed_frame':
        // FIN, RSV1 (no extension negotiated through the sidecar), text, an empty payload.
        return void (ws as unknown as { _socket: Duplex })._socket.write(Buffer.from([0xc1, 0x00]));
      case 'fake.huge':
        return ws.send(JSON.stringify({ type: 'fake.huge', pad: 'x'.repeat(Number(event.bytes) || 9 * 1024 * 1024) }));
      default:
        return;
    }
  });

  function respond(options: Obj): void {
    const id = `resp_${++n}`;
    const ask = /call (\w+)/.exec(`${typeof options.instructions === 'string' ? options.instructions : ''} ${lastUserText}`);
    send('response.created', { response: { id, status: 'in_progress', output: [] } });
    let item: Obj;
    if (ask) {
      // The function asked for, defined or not: a model can propose anything.
      const name = ask[1]!;
      const args = JSON.stringify({ q: 'fake argument' });
      item = { id: `item_fc_${n}`, object: 'realtime.item', type: 'function_call', status: 'in_progress', name, call_id: `call_${n}`, arguments: '' };
      send('response.output_item.added', { response_id: id, output_index: 0, item });
      for (const delta of [args.slice(0, 5), args.slice(5)]) send('response.function_call_arguments.delta', { response_id: id, item_id: item.id, output_index: 0, call_id: item.call_id, delta });
      send('response.function_call_arguments.done', { response_id: id, item_id: item.id, output_index: 0, call_id: item.call_id, name, arguments: args });
      item = { ...item, status: 'completed', arguments: args };
      send('response.output_item.done', { response_id: id, output_index: 0, item });
    } else {
      const text = 'fake realtime answer';
      item = { id: `item_msg_${n}`, object: 'realtime.item', type: 'message', role: 'assistant', status: 'in_progress', content: [] };
      send('response.output_item.added', { response_id: id, output_index: 0, item });
      send('response.text.delta', { response_id: id, item_id: item.id, output_index: 0, content_index: 0, delta: text });
      send('response.text.done', { response_id: id, item_id: item.id, output_index: 0, content_index: 0, text });
      item = { ...item, status: 'completed', content: [{ type: 'text', text }] };
      send('response.output_item.done', { response_id: id, output_index: 0, item });
    }
    send('response.done', { response: { id, status: 'completed', output: [item], usage: FAKE_REALTIME_USAGE } });
  }
}
