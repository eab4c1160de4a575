// The fake "model": a deterministic function from a conversation to an answer, shared by every wire
// format. It echoes the last message; if the user's last words contain `call tool NAME`, it
// proposes a call to NAME instead. Token counts follow from the text lengths, so tests can
// predict them.
//
// Deliberately independent of sidecar/providers: the fake is the yardstick the adapters are
// measured against, so it reads request bodies with its own few lines per format.

export const TOOL_TRIGGER = /call tool ([A-Za-z0-9_.-]+)/;

/** One message of a conversation, reduced to what the fake needs. */
export interface Turn {
  role: string;
  text: string;
  /** The message reports tool results (the model then answers in text, never loops on a call). */
  toolResult: boolean;
}

export interface Conversation {
  /** Instructions / system prompt text, counted as input. */
  system: string[];
  turns: Turn[];
}

export type Reply =
  | { kind: 'text'; text: string }
  | { kind: 'tool'; name: string; id: string; arguments: { q: string }; argumentsJson: string };

export interface Answer {
  reply: Reply;
  usage: { input: number; output: number };
}

export function tokens(chars: number): number {
  return Math.max(1, Math.ceil(chars / 4));
}

const MAX_ECHO = 200;

export function answer(conv: Conversation, toolId: string): Answer {
  const last = conv.turns[conv.turns.length - 1];
  const lastText = last?.text ?? '';
  const inputChars = [...conv.system, ...conv.turns.map((t) => t.text)].reduce((n, t) => n + t.length, 0);
  const m = last && last.role === 'user' && !last.toolResult ? TOOL_TRIGGER.exec(lastText) : null;
  if (m) {
    const args = { q: lastText };
    const argumentsJson = JSON.stringify(args);
    return { reply: { kind: 'tool', name: m[1]!, id: toolId, arguments: args, argumentsJson }, usage: { input: tokens(inputChars), output: tokens(argumentsJson.length) } };
  }
  const chars = [...lastText];
  const summary = chars.length > MAX_ECHO ? chars.slice(0, MAX_ECHO).join('') + '...' : lastText;
  const text = `Echo: ${summary}`;
  return { reply: { kind: 'text', text }, usage: { input: tokens(inputChars), output: tokens(text.length) } };
}

/** Cuts a string into n pieces by code points (never inside a surrogate pair); no empty pieces. */
export function pieces(s: string, n: number): string[] {
  const chars = [...s];
  const size = Math.max(1, Math.ceil(chars.length / n));
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out.length > 0 ? out : [''];
}

// ---- reading the conversation out of each wire format ----

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Text of a content value: a string, or the text of its parts (OpenAI/Anthropic/Bedrock shapes). */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return list(content)
    .map((p) => {
      if (!isObj(p)) return '';
      if (typeof p.text === 'string') return p.text;
      if (p.type === 'tool_result') return textOf(p.content);
      if (isObj(p.toolResult)) return list(p.toolResult.content).map((c) => (isObj(c) ? (typeof c.text === 'string' ? c.text : c.json !== undefined ? JSON.stringify(c.json) : '') : '')).join('');
      return '';
    })
    .join('');
}

export function chatConversation(body: Obj): Conversation {
  return {
    system: [],
    turns: list(body.messages).filter(isObj).map((m) => ({ role: String(m.role), text: textOf(m.content), toolResult: m.role === 'tool' || m.role === 'function' })),
  };
}

export function responsesConversation(body: Obj): Conversation {
  const system = typeof body.instructions === 'string' ? [body.instructions] : [];
  if (typeof body.input === 'string') return { system, turns: [{ role: 'user', text: body.input, toolResult: false }] };
  const turns: Turn[] = [];
  for (const item of list(body.input).filter(isObj)) {
    if (typeof item.role === 'string') turns.push({ role: item.role, text: textOf(item.content), toolResult: false });
    else if (item.type === 'function_call_output') turns.push({ role: 'tool', text: typeof item.output === 'string' ? item.output : textOf(item.output), toolResult: true });
  }
  return { system, turns };
}

export function anthropicConversation(body: Obj): Conversation {
  return {
    system: [textOf(body.system)],
    turns: list(body.messages).filter(isObj).map((m) => ({
      role: String(m.role),
      text: textOf(m.content),
      toolResult: list(m.content).some((b) => isObj(b) && b.type === 'tool_result'),
    })),
  };
}

export function converseConversation(body: Obj): Conversation {
  return {
    system: [textOf(body.system)],
    turns: list(body.messages).filter(isObj).map((m) => ({
      role: String(m.role),
      text: textOf(m.content),
      toolResult: list(m.content).some((b) => isObj(b) && isObj(b.toolResult)),
    })),
  };
}
