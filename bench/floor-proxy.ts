// The floor: the least a Node forward proxy can do, with no checks. Absolute-URI requests are
// forwarded with undici through a keep-alive Agent, streaming both ways; CONNECT is a raw tunnel.
// Whatever Chaperone costs above this is the price of governing, not of being a Node proxy.
//   node dist/bench/floor-proxy.js --port 0 [--resolve HOST=IP:PORT]...   prints {"url": ...}
import { createServer } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, resolve: { type: 'string', multiple: true, default: [] } } });
// --resolve HOST=IP:PORT, like the sidecar's, so both proxies see the same request URLs.
const resolve = new Map(values.resolve!.map((s) => [s.slice(0, s.indexOf('=')).toLowerCase(), s.slice(s.indexOf('=') + 1)]));
const addressOf = (host: string, port: string): { host: string; port: number } => {
  const [h, p] = (resolve.get(host.toLowerCase()) ?? `${host}:${port}`).split(/:(?=\d+$)/);
  return { host: h!, port: Number(p) };
};
// Same pool shape as the sidecar's upstream Agent (sidecar/upstream.ts).
const agent = new Agent({ keepAliveTimeout: 60_000, connections: 128 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host', 'expect']);
const strip = (h: Record<string, string | string[] | undefined>) => Object.fromEntries(Object.entries(h).filter(([k]) => !HOP.has(k))) as Record<string, string | string[]>;

const server = createServer((req, res) => {
  if (!/^http:\/\//i.test(req.url ?? '')) return void res.writeHead(400).end('absolute http:// URI expected\n');
  const url = new URL(req.url!);
  const to = addressOf(url.hostname, url.port || '80');
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  request(`http://${to.host}:${to.port}${url.pathname}${url.search}`, {
    dispatcher: agent,
    method: req.method as 'POST',
    headers: { ...strip(req.headers), host: url.host },
    body: hasBody ? req : null,
  }).then(
    (up) => {
      res.writeHead(up.statusCode, strip(up.headers));
      // .pipe, not stream.pipeline: pipeline builds an AbortController and a DOMException per call,
      // a cost the floor should not carry.
      up.body.on('error', () => res.destroy()).pipe(res);
    },
    (err: Error) => res.writeHead(502).end(err.message),
  );
});
server.keepAliveTimeout = 60_000;
server.on('connect', (req, socket, head) => {
  const [host, port] = (req.url ?? '').split(/:(?=\d+$)/);
  const up = connect(addressOf(host ?? '', port ?? '443'), () => {
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    up.write(head);
    up.pipe(socket).on('error', () => socket.destroy());
    socket.pipe(up).on('error', () => up.destroy());
  });
  up.on('error', () => socket.destroy());
  socket.on('error', () => up.destroy());
  socket.on('close', () => up.destroy());
  up.on('close', () => socket.destroy());
});
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }) + '\n');
});
const stop = () => {
  server.close();
  server.closeAllConnections();
  void agent.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
