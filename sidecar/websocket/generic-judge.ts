// A WebSocket on an intercepted host that speaks no dialect the sidecar knows. As for an HTTP body
// of an unknown format there: what the client sends is read (a JSON message's every string, else
// the whole text) and judged by the host-level checks and DLP before it goes on; the server's
// messages are relayed after their framing is checked, as an unknown format's answers are.
// A refusal closes the session (1008): there is no error message a client of an unknown protocol
// would understand. A binary message cannot be read, so it is not forwarded (1003), unless a
// policy lets the host and path through unread (spec.intercept.passThrough; upgrade.ts).
// JSON that reads two ways (a key repeated with another value, excessive nesting) is not
// forwarded either (1007), as such an HTTP body is refused (exchange.ts): the checks read one
// value, the server might read the other.
import type { TextField } from '../call.js';
import { structuralProblem } from '../json-structure.js';
import { setAt } from '../providers/adapter.js';
import { stringLeaves } from '../providers/util.js';
import { blocks } from '../policy/verdict.js';
import { CLOSE, OPCODE, type Message } from './frames.js';
import type { Action, SessionJudge, Side } from './relay.js';
import { asRefusal, type SocketSession } from './session.js';

export function genericJudge(session: SocketSession): SessionJudge {
  return {
    async message(from: Side, message: Message): Promise<Action> {
      if (from === 'server') return { kind: 'forward' };
      if (message.opcode !== OPCODE.text) {
        return { kind: 'close', code: CLOSE.unsupportedData, reason: 'a binary message to an intercepted host cannot be checked (spec.intercept.passThrough lets it through unread)' };
      }
      const text = message.payload.toString('utf8');
      let json: unknown;
      let isJson = true;
      try {
        json = JSON.parse(text);
      } catch {
        isJson = false;
      }
      const problem = isJson ? structuralProblem(text) : undefined;
      if (problem) return { kind: 'close', code: CLOSE.invalidPayload, reason: `a message cannot be read: ${problem}` };
      const texts: TextField[] = isJson ? stringLeaves(json, []) : [{ path: [], text }];
      const call = session.messageCall({ operation: 'websocket', toolsDefined: [], toolCalls: [], texts, stream: true, maxOutputTokens: 0 });
      const outcome = await session.prepareAndDecide(call);
      if (blocks(outcome.final.decision)) {
        const refusal = asRefusal(outcome.final);
        session.recordMessage({ call, from: 'client', verdict: refusal, findings: outcome.findings });
        return { kind: 'close', code: CLOSE.policyViolation, reason: `chaperone: ${refusal.reason ?? `denied by ${refusal.rule ?? 'policy'}`}` };
      }
      session.settle(call, { status: 200 });
      if (outcome.final.decision !== 'allow') session.recordMessage({ call, from: 'client', verdict: outcome.final, findings: outcome.findings });
      if (outcome.rewrites.length === 0) return { kind: 'forward' };
      // A rewrite of the whole message (a JSON string, or text that is not JSON) replaces it.
      let out: unknown = isJson ? json : text;
      for (const r of outcome.rewrites) {
        if (r.path.length === 0) out = r.text;
        else setAt(out, r.path, r.text);
      }
      return { kind: 'forward', payload: Buffer.from(isJson ? JSON.stringify(out) : (out as string)) };
    },
    finish() {},
  };
}
