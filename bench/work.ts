// The calls a benchmark run sends: OpenAI Chat Completions or Anthropic Messages, 1 KB or 32 KB,
// whole or streamed. Every body is built from bench/fixtures/chat-1kb.json, deterministically, so
// each format and size carries the same conversation and the fake upstream echoes the same answer.
//
// The 32 KB call is the 1 KB one after a long conversation (earlier user and assistant turns of
// plain prose) with six tool definitions instead of two. Its text holds nothing a DLP detector would
// flag (no digits, no addresses, no tokens), and its tools are the ones bench/policies/all-checks.yaml
// permits the `researcher` agent (web_search, file_reader, kb_*), so every check passes it as it
// passes the 1 KB call: the difference between the two sizes is the cost of the bytes.

export type Format = 'openai' | 'anthropic';
export type Size = '1kb' | '32kb';

export interface Work {
  format: Format;
  size: Size;
  stream: boolean;
}

export interface Target {
  host: string;
  path: string;
  /** Headers an SDK would send (besides Content-Type and the agent headers the driver adds). */
  headers: string[];
}

export const TARGETS: Record<Format, Target> = {
  openai: {
    host: 'api.openai.com',
    path: '/v1/chat/completions',
    headers: ['Authorization: Bearer sk-bench-0000000000000000000000000000000000000000'],
  },
  anthropic: {
    host: 'api.anthropic.com',
    path: '/v1/messages',
    headers: ['x-api-key: sk-ant-bench-0000000000000000000000000000000000000000', 'anthropic-version: 2023-06-01'],
  },
};

/** Byte sizes the two sizes are built to (compact JSON): 1 KB is the fixture as it is. */
export const SIZE_32KB_MIN = 32 * 1024;

type Obj = Record<string, unknown>;

interface ChatFixture {
  model: string;
  messages: Array<{ role: string; content: string }>;
  tools: Array<{ type: 'function'; function: { name: string; description: string; parameters: Obj } }>;
  tool_choice: string;
  temperature: number;
  max_tokens: number;
  user: string;
}

/** Sentences for the earlier turns of the long conversation: words only, nothing a detector flags. */
const SENTENCES = [
  'The checkout service talks to the payment gateway through the shared egress proxy.',
  'Yesterday the team rolled out a new connection pool setting for the order database.',
  'Latency on the cart page rose slightly after the cache warmup job was moved to the morning.',
  'The runbook says to check the gateway error budget before rolling anything back.',
  'Most of the intermittent failures line up with the moments the autoscaler adds new pods.',
  'The readiness probe waits for the config reload, which can take a while on a cold node.',
  'Our dashboards split errors by upstream, so a gateway problem shows up as one tall bar.',
  'The incident notes mention a certificate rotation on the internal load balancer as well.',
  'Nobody has touched the retry policy since the spring, according to the change log.',
  'The previous similar outage was traced to a stale service entry in the mesh.',
  'Tracing shows the slow requests spend most of their time waiting for a free connection.',
  'Please keep the summary short and point to the sections of the runbook you used.',
];

const EXTRA_TOOLS: ChatFixture['tools'] = [
  {
    type: 'function',
    function: {
      name: 'kb_search',
      description: 'Search the internal knowledge base of runbooks, incident reviews and design notes; returns matching sections with their titles and a short excerpt.',
      parameters: {
        type: 'object',
        properties: {
          query: { type: 'string', description: 'Words to look for' },
          space: { type: 'string', enum: ['runbooks', 'incidents', 'design'], description: 'Which part of the knowledge base' },
          limit: { type: 'integer', minimum: 1, maximum: 20 },
        },
        required: ['query'],
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'kb_fetch',
      description: 'Fetch one knowledge base section in full, by the identifier a search returned.',
      parameters: { type: 'object', properties: { section: { type: 'string', description: 'Section identifier' } }, required: ['section'] },
    },
  },
  {
    type: 'function',
    function: {
      name: 'kb_related',
      description: 'List the sections that link to, or are linked from, a given knowledge base section.',
      parameters: { type: 'object', properties: { section: { type: 'string' }, direction: { type: 'string', enum: ['in', 'out', 'both'] } }, required: ['section'] },
    },
  },
  {
    type: 'function',
    function: {
      name: 'kb_recent_changes',
      description: 'List knowledge base sections changed recently, newest first, with the author and a one line summary of the change.',
      parameters: { type: 'object', properties: { space: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 50 } } },
    },
  },
];

/** Earlier turns of the long conversation: alternating user and assistant prose, deterministic. */
function history(turns: number): Array<{ role: 'user' | 'assistant'; content: string }> {
  const out: Array<{ role: 'user' | 'assistant'; content: string }> = [];
  for (let t = 0; t < turns; t++) {
    const sentences: string[] = [];
    for (let k = 0; k < 6; k++) sentences.push(SENTENCES[(t * 5 + k * 7) % SENTENCES.length]!);
    out.push({ role: t % 2 === 0 ? 'user' : 'assistant', content: sentences.join(' ') });
  }
  // The conversation must end with the user, before the final user message: make it even.
  if (out.length % 2 === 1) out.pop();
  return out;
}

/** The OpenAI chat body of a size (without `stream`). */
function openAiChat(fixture: ChatFixture, size: Size, turns: number): ChatFixture {
  if (size === '1kb') return fixture;
  const [system, ...rest] = fixture.messages;
  return { ...fixture, messages: [system!, ...history(turns), ...rest], tools: [...fixture.tools, ...EXTRA_TOOLS] };
}

/** The same call in Anthropic Messages form: system at the top, tools with input_schema. */
function anthropicFrom(chat: ChatFixture): Obj {
  const system = chat.messages.find((m) => m.role === 'system')?.content ?? '';
  return {
    model: 'claude-haiku-4-5',
    max_tokens: chat.max_tokens,
    system,
    messages: chat.messages.filter((m) => m.role !== 'system').map((m) => ({ role: m.role, content: m.content })),
    tools: chat.tools.map((t) => ({ name: t.function.name, description: t.function.description, input_schema: t.function.parameters })),
    tool_choice: { type: 'auto' },
    temperature: chat.temperature,
    metadata: { user_id: chat.user },
  };
}

function encode(chat: ChatFixture, w: Work): string {
  if (w.format === 'openai') {
    return JSON.stringify(w.stream ? { ...chat, stream: true, stream_options: { include_usage: true } } : chat);
  }
  const body = anthropicFrom(chat);
  return JSON.stringify(w.stream ? { ...body, stream: true } : body);
}

/**
 * The request body of a work item, from the 1 KB fixture (the parsed bench/fixtures/chat-1kb.json).
 * 32 KB: the fewest earlier turns that take the body to at least 32 KiB.
 */
export function requestBody(fixture: unknown, w: Work): string {
  const chat = fixture as ChatFixture;
  if (w.size === '1kb') return encode(chat, w);
  for (let turns = 2; turns < 400; turns += 2) {
    const text = encode(openAiChat(chat, '32kb', turns), w);
    if (Buffer.byteLength(text) >= SIZE_32KB_MIN) return text;
  }
  throw new Error('requestBody: could not reach 32 KB');
}

/** What the driver says about a work item, e.g. "1 KB OpenAI chat completion, streamed". */
export function describeWork(w: Work): string {
  const size = w.size === '1kb' ? '1 KB' : '32 KB';
  const what = w.format === 'openai' ? 'OpenAI chat completion' : 'Anthropic message';
  return `${size} ${what}${w.stream ? ', streamed' : ''}`;
}
