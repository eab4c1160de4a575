// The hostile upstream of the fuzz run: every intercepted host resolves to it (HTTPS with the
// world's test PKI, and plain HTTP for the http:// ways in). It checks every request it receives
// with the oracle (nothing forbidden may arrive; what arrives is the UTF-8 JSON the sidecar
// checked), then answers as the case's recipe says, writing raw bytes on the socket: lying
// lengths, broken framing, resets and stalls are beyond what a well-behaved server API can write.
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { benignAnswer, renderAnswer, type AnswerPlan, type AnswerRecipe } from './answers.js';
import { header, receivedViolations } from './oracle.js';

export interface UpstreamViolation {
  caseId: string;
  problem: string;
}

export interface HostileUpstream {
  tlsPort: number;
  plainPort: number;
  /** Requests received, in all. */
  received(): number;
  /** How many requests each case got through to the upstream. */
  receivedByCase: Map<string, number>;
  violations: UpstreamViolation[];
  close(): Promise<void>;
}

export interface HostileUpstreamOptions {
  tls: { cert: string; key: string };
  /** The hostile answer a case asked for (by its X-Fuzz-Case header); undefined: a harmless answer. */
  answerFor(caseId: string): AnswerRecipe | undefined;
}

/** Writes an answer plan on the raw socket, yielding between pieces so they leave as separate reads. */
async function play(socket: Socket, plan: AnswerPlan, hanging: Set<Socket>): Promise<void> {
  for (let i = 0; i < plan.pieces.length; i++) {
    if (socket.destroyed) return;
    if (i > 0) await new Promise((r) => setImmediate(r));
    socket.write(plan.pieces[i]!);
  }
  if (plan.then === 'end') socket.end();
  else if (plan.then === 'reset') socket.resetAndDestroy();
  else hanging.add(socket);
}

export async function startHostileUpstream(opts: HostileUpstreamOptions): Promise<HostileUpstream> {
  const violations: UpstreamViolation[] = [];
  const receivedByCase = new Map<string, number>();
  const sockets = new Set<Socket>();
  const hanging = new Set<Socket>();
  let received = 0;

  const handler = (req: IncomingMessage): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      received++;
      const body = Buffer.concat(chunks);
      const caseId = header(req.headers, 'x-fuzz-case') ?? 'no X-Fuzz-Case header';
      receivedByCase.set(caseId, (receivedByCase.get(caseId) ?? 0) + 1);
      for (const problem of receivedViolations({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body })) violations.push({ caseId, problem });
      const recipe = opts.answerFor(caseId);
      const plan = recipe ? renderAnswer(recipe) : benignAnswer((req.url ?? '/').split('?')[0]!, body.includes('"jsonrpc"'));
      play(req.socket as Socket, plan, hanging).catch(() => req.socket.destroy());
    });
  };

  const servers: Server[] = [createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler), createHttpServer(handler)];
  for (const s of servers) {
    s.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('close', () => (sockets.delete(socket), hanging.delete(socket)));
    });
    s.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  }
  const port = (s: Server): number => (s.address() as AddressInfo).port;
  return {
    tlsPort: port(servers[0]!),
    plainPort: port(servers[1]!),
    received: () => received,
    receivedByCase,
    violations,
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
}
