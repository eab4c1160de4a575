// The OpenAI Realtime dialect on a socket: each whole message is a JSON event (providers/realtime.ts
// reads it), judged through the same policy pipeline as an HTTP call before it goes on.
//
// Client events, judged as requests (session.ts): a refused event is not forwarded and the client
// gets a Realtime `error` event naming it, the session stays open; a redaction rewrites the event.
// A tool the model is offered (session.update, response.create) is judged as the model proposing
// it would be: on a socket a forbidden proposal ends the session, so an offer of a tool the agent may
// not use is refused up front (or, with tools.stripForbidden, removed from the offer).
//
// Server events, judged as a streamed answer: a proposed tool call by name as soon as it shows (the
// item added), and whole (name, arguments, call_id) when it is done; the model's text deltas;
// usage when a response is done. A proposed call the policies stop (or hold: a socket cannot wait
// for a person, and there is no resend of a model's proposal) is never relayed: its event is
// dropped, the client gets an `error` event naming the tool, and the session is closed with 1008.
// Closing rather than dropping the event and going on: the response is built around that call, and
// later events (the item done, response.done's output, the conversation's items) name it again;
// rewriting each of them out is a promise the sidecar cannot keep for every event the API may add.
//
// What cannot be read is not forwarded: a binary message (1003), text that is not a JSON object
// with a type, or JSON that reads two ways (a repeated key, excessive nesting) (1007).
import type { Call, StreamEvent, ToolCall } from '../call.js';
import { structuralProblem } from '../json-structure.js';
import { MalformedRequest, setAt } from '../providers/adapter.js';
import { readClientEvent, realtimeError, RealtimeServerReader, removeEventTools, type ClientReading } from '../providers/realtime.js';
import { isObject, type Obj } from '../providers/util.js';
import { blocks, type Outcome, type Verdict } from '../policy/verdict.js';
import { CLOSE, OPCODE, type Message } from './frames.js';
import type { Action, SessionJudge, Side } from './relay.js';
import { stopKind } from '../decision.js';
import { asRefusal, type SocketSession } from './session.js';

/** Texts longer than this are read by the checks in steps, the event loop let run between them. */
const PREPARE_ABOVE_CHARS = 256 * 1024;
const letOthersRun = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A text message read as a JSON object, or why it cannot be. */
function readJsonMessage(message: Message): { event: Obj } | { problem: Action } {
  if (message.opcode !== OPCODE.text) {
    return { problem: { kind: 'close', code: CLOSE.unsupportedData, reason: 'a binary message on a Realtime socket (its events are JSON text)' } };
  }
  const text = message.payload.toString('utf8');
  const unreadable = (why: string): { problem: Action } => ({ problem: { kind: 'close', code: CLOSE.invalidPayload, reason: `a message cannot be read: ${why}` } });
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    return unreadable('it is not JSON');
  }
  if (!isObject(event) || typeof event.type !== 'string') return unreadable('it is not a JSON object with a type');
  // JSON another parser could read otherwise (a key repeated with another value) is not relayed.
  const problem = structuralProblem(text);
  if (problem) return unreadable(problem);
  return { event };
}

export function realtimeJudge(session: SocketSession): SessionJudge {
  const { dp, snapshot } = session;
  const policies = snapshot.policies;
  const reader = new RealtimeServerReader();
  /** Admitted response.create calls, oldest first, each waiting for its response.done. */
  const pending: Call[] = [];
  /** Whole tool calls already judged (call_id and name): the same call shows in several events. */
  const judged = new Set<string>();

  /** Refuses a client event: not forwarded; the client is told, and the session goes on. */
  const refuseEvent = (call: Call, reading: Extract<ClientReading, { kind: 'judge' }>, verdict: Verdict, findings: readonly Verdict[]): Action => {
    const refusal = asRefusal(verdict);
    session.recordMessage({ call, from: 'client', event: reading.type, verdict: refusal, findings });
    const reason = refusal.reason ?? `denied by ${refusal.rule ?? 'policy'}`;
    return { kind: 'drop', tell: realtimeError(stopKind(verdict.decision), `chaperone: ${reason}`, reading.eventId) };
  };

  /** Would the model be allowed to propose each of these tools? The first that it would not, if any. */
  const refusedOffer = (call: Call, names: readonly string[]): Verdict | undefined => {
    for (const name of names) {
      const outcome = dp.pipeline.evaluateStreamEvent(call, { type: 'tool_call', name }, policies);
      // Offering a tool that needs approval is fine: a proposal of it is what is held.
      const stop = outcome.findings.find((f) => blocks(f.decision) && f.decision !== 'hold');
      if (stop) return { ...stop, reason: `the session offers the model tool ${name}, which it may not propose: ${stop.reason ?? 'denied by policy'}` };
    }
    return undefined;
  };

  const client = async (event: Obj): Promise<Action> => {
    let reading: ClientReading;
    try {
      reading = readClientEvent(event);
    } catch (err) {
      if (!(err instanceof MalformedRequest)) throw err;
      const call = session.messageCall({ operation: 'realtime', toolsDefined: [], toolCalls: [], texts: [], stream: true });
      const eventId = typeof event.event_id === 'string' ? event.event_id : undefined;
      session.recordMessage({ call, from: 'client', event: event.type as string, verdict: { decision: 'allow' }, findings: [], error: err.message });
      return { kind: 'drop', tell: realtimeError('invalid_request', `chaperone: ${err.message}`, eventId) };
    }
    if (reading.kind === 'pass') return { kind: 'forward' };
    const isResponse = reading.type === 'response.create';
    // Only a response spends tokens; other events are settled at once with none.
    const call = session.messageCall({ ...reading.facts, ...(isResponse ? {} : { maxOutputTokens: 0 }) });
    if (dp.pipeline.preparesEveryCall || call.texts.reduce((n, t) => n + t.text.length, 0) > PREPARE_ABOVE_CHARS) await dp.pipeline.prepareRequest(call, policies, letOthersRun);
    const outcome: Outcome = session.decide(call);
    if (blocks(outcome.final.decision)) return refuseEvent(call, reading, outcome.final, outcome.findings);

    let rewritten = false;
    for (const r of outcome.rewrites) rewritten = setAt(event, r.path, r.text) || rewritten;
    const strip = new Set(outcome.stripTools);
    if (strip.size > 0) rewritten = removeEventTools(event, strip) > 0 || rewritten;
    const offered = reading.facts.toolsDefined.filter((name) => !strip.has(name));
    const offer = refusedOffer(call, offered);
    if (offer) {
      session.settle(call, { status: 0 });
      return refuseEvent(call, reading, offer, [...outcome.findings, offer]);
    }
    for (const name of offered) session.toolsDefined.add(name);
    if (isResponse) pending.push(call);
    else session.settle(call, { status: 200, usage: { inputTokens: 0, outputTokens: 0 } });
    if (outcome.final.decision !== 'allow') session.recordMessage({ call, from: 'client', event: reading.type, verdict: outcome.final, findings: outcome.findings });
    return rewritten ? { kind: 'forward', payload: Buffer.from(JSON.stringify(event)) } : { kind: 'forward' };
  };

  /** Ends the session over something the model produced. */
  const stopModel = (call: Call, type: string, verdict: Verdict, findings: readonly Verdict[], toolCall?: ToolCall): Action => {
    const refusal = asRefusal(verdict);
    session.recordMessage({ call, from: 'server', event: type, verdict: refusal, findings, ...(toolCall ? { toolCalls: [toolCall] } : {}) });
    const reason = `chaperone: ${refusal.reason ?? `stopped by ${refusal.rule ?? 'policy'}`}`;
    return { kind: 'close', code: CLOSE.policyViolation, reason, tell: realtimeError(stopKind(verdict.decision), reason) };
  };

  /** Notes a proposed call as judged (counted and named once); false when it already was. */
  const noteJudged = (id: string | undefined, name: string): boolean => {
    const key = `${id ?? ''}\u0000${name}`;
    if (judged.has(key)) return false;
    judged.add(key);
    session.toolCallsJudged++;
    session.toolCalls.push(name);
    return true;
  };

  /** A whole proposed call, judged once: a line of its own, and the session stopped if it may not run. */
  const judgeCall = (call: Call, type: string, tc: ToolCall): Action | undefined => {
    if (!noteJudged(tc.id, tc.name)) return undefined;
    if (tc.name === '') return stopModel(call, type, { decision: 'deny', rule: 'tools', reason: 'the model proposed a function call whose name never came, which cannot be judged' }, [], tc);
    const outcome = dp.pipeline.evaluateResponse(call, { toolCalls: [tc], texts: [] }, policies);
    if (blocks(outcome.final.decision)) return stopModel(call, type, outcome.final, outcome.findings, tc);
    session.recordMessage({ call, from: 'server', event: type, verdict: outcome.final, findings: outcome.findings, toolCalls: [tc] });
    return undefined;
  };

  /** One event of the model's stream (a call by name, a text delta); stops the session when it must. */
  const judgeEvent = (call: Call, type: string, ev: StreamEvent): Action | undefined => {
    const outcome = dp.pipeline.evaluateStreamEvent(call, ev, policies);
    if (blocks(outcome.final.decision)) {
      // Judged whole here: the same call seen again when it is done needs no second line.
      if (ev.type === 'tool_call') noteJudged(ev.id, ev.name);
      return stopModel(call, type, outcome.final, outcome.findings, ev.type === 'tool_call' ? { name: ev.name, ...(ev.id ? { id: ev.id } : {}) } : undefined);
    }
    session.findings.push(...outcome.findings);
    return undefined;
  };

  const server = (event: Obj): Action => {
    const read = reader.read(event);
    if (read.model !== undefined) session.model = read.model;
    const call = pending[0] ?? session.call;
    for (const ev of read.events) {
      const stop = judgeEvent(call, read.type, ev);
      if (stop) return stop;
    }
    for (const tc of read.toolCalls) {
      const stop = judgeCall(call, read.type, tc);
      if (stop) return stop;
    }
    if (read.responseDone) {
      // A response the client asked for settles its own call; one the server began itself (voice
      // activity) settles on the session's.
      const asked = pending.shift() ?? session.call;
      if (read.usage) session.addUsage(asked, read.usage);
      else if (asked !== session.call) session.settle(asked, { status: 200 });
    }
    return { kind: 'forward' };
  };

  return {
    async message(from: Side, message: Message): Promise<Action> {
      const read = readJsonMessage(message);
      if ('problem' in read) return read.problem;
      return from === 'client' ? client(read.event) : server(read.event);
    },
    finish() {
      // Responses that never finished: their estimates stand (the model may have spent them).
      for (const call of pending.splice(0)) session.settle(call, { status: 200 });
    },
  };
}
