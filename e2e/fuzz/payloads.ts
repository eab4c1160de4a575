// Request bodies for every adapter the sidecar has: hostile ones, each hiding one forbidden thing
// where the policy must see it (a call of the forbidden tool, a definition of it, a planted secret
// in a field the provider reads), and the benign ones answer cases send. Plain data: the corpus
// spells them (encodings, mutations), the oracle looks for what they hide.
import { ALLOWED_TOOL } from './threats.js';
import type { Json, JsonPath } from './json-writer.js';

export type Adapter = 'openai-chat' | 'openai-responses' | 'anthropic' | 'bedrock' | 'mcp';
export const ADAPTERS: readonly Adapter[] = ['openai-chat', 'openai-responses', 'anthropic', 'bedrock', 'mcp'];

export interface Payload {
  adapter: Adapter;
  /** Short name, e.g. "chat/tool_choice". */
  name: string;
  threat: 'tool' | 'secret';
  /** The canonical upstream path (origin form). */
  path: string;
  body: Json;
  /** The member that carries the threat, and a harmless value for it (duplicate-key mutations). */
  carrier: JsonPath;
  harmless: Json;
  /** A text field filler may be prepended to (for secrets: the field holding it). */
  textPath: JsonPath;
}

/** What a builder plants: the forbidden tool's name as spelt for this case, a spelt secret. */
export interface Plant {
  tool: string;
  secret: string;
  /** The secret as a JSON number, where a builder can use one (tool arguments). */
  secretNumber: number;
}

type Builder = (p: Plant) => Omit<Payload, 'adapter' | 'name' | 'threat'>;

export const HOSTS: Record<Adapter, string> = {
  'openai-chat': 'api.openai.com',
  'openai-responses': 'api.openai.com',
  anthropic: 'api.anthropic.com',
  bedrock: 'bedrock-runtime.us-east-1.amazonaws.com',
  mcp: 'mcp.tools.example.com',
};

export const BEDROCK_MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
export const PATHS: Record<Adapter, (stream: boolean) => string> = {
  'openai-chat': () => '/v1/chat/completions',
  'openai-responses': () => '/v1/responses',
  anthropic: () => '/v1/messages',
  bedrock: (stream) => `/model/${BEDROCK_MODEL}/${stream ? 'converse-stream' : 'converse'}`,
  mcp: () => '/mcp',
};

const fn = (name: string) => ({ type: 'function', function: { name, description: 'runs it', parameters: { type: 'object', properties: { q: { type: 'string' } } } } });
const user = (content: Json) => ({ role: 'user', content });
const hi = [user('hello')];

const CHAT: Record<string, [Payload['threat'], Builder]> = {
  tool_choice: ['tool', (p) => ({ path: PATHS['openai-chat'](false), body: { model: 'gpt-4o', messages: hi, tools: [fn(ALLOWED_TOOL)], tool_choice: { type: 'function', function: { name: p.tool } } }, carrier: ['tool_choice'], harmless: 'auto', textPath: ['messages', 0, 'content'] })],
  assistant_call: ['tool', (p) => ({
    path: PATHS['openai-chat'](false),
    body: { model: 'gpt-4o', messages: [user('tidy up'), { role: 'assistant', content: null, tool_calls: [{ id: 'call_a', type: 'function', function: { name: p.tool, arguments: '{"table":"users"}' } }] }, { role: 'tool', tool_call_id: 'call_a', content: 'done' }] },
    carrier: ['messages'], harmless: hi, textPath: ['messages', 0, 'content'],
  })],
  legacy_function_call: ['tool', (p) => ({ path: PATHS['openai-chat'](false), body: { model: 'gpt-4o', messages: [user('x'), { role: 'assistant', content: null, function_call: { name: p.tool, arguments: '{}' } }] }, carrier: ['messages'], harmless: hi, textPath: ['messages', 0, 'content'] })],
  forced_function: ['tool', (p) => ({ path: PATHS['openai-chat'](false), body: { model: 'gpt-4o', messages: hi, functions: [{ name: ALLOWED_TOOL, parameters: { type: 'object' } }], function_call: { name: p.tool } }, carrier: ['function_call'], harmless: 'auto', textPath: ['messages', 0, 'content'] })],
  tool_definition: ['tool', (p) => ({ path: PATHS['openai-chat'](false), body: { model: 'gpt-4o', messages: hi, tools: [fn(ALLOWED_TOOL), fn(p.tool)] }, carrier: ['tools'], harmless: [fn(ALLOWED_TOOL)], textPath: ['messages', 0, 'content'] })],
  custom_tool_definition: ['tool', (p) => ({ path: PATHS['openai-chat'](false), body: { model: 'gpt-4o', messages: hi, tools: [{ type: 'custom', custom: { name: p.tool } }] }, carrier: ['tools'], harmless: [fn(ALLOWED_TOOL)], textPath: ['messages', 0, 'content'] })],
  secret_content: ['secret', (p) => ({ path: PATHS['openai-chat'](false), body: { model: 'gpt-4o', messages: [user(`please remember ${p.secret} for later`)] }, carrier: ['messages'], harmless: hi, textPath: ['messages', 0, 'content'] })],
  secret_parts: ['secret', (p) => ({ path: PATHS['openai-chat'](false), body: { model: 'gpt-4o', messages: [user([{ type: 'text', text: 'note:' }, { type: 'text', text: `number ${p.secret} end` }])] }, carrier: ['messages'], harmless: hi, textPath: ['messages', 0, 'content', 1, 'text'] })],
  secret_split: ['secret', (p) => {
    const cut = Math.floor(p.secret.length / 2);
    return { path: PATHS['openai-chat'](false), body: { model: 'gpt-4o', messages: [user(`my number is ${p.secret.slice(0, cut)}`), user(`${p.secret.slice(cut)} and that is all`)] }, carrier: ['messages'], harmless: hi, textPath: ['messages', 0, 'content'] };
  }],
  secret_arguments: ['secret', (p) => ({
    path: PATHS['openai-chat'](false),
    body: { model: 'gpt-4o', messages: [user('pay'), { role: 'assistant', content: null, tool_calls: [{ id: 'call_b', type: 'function', function: { name: ALLOWED_TOOL, arguments: JSON.stringify({ q: `card ${p.secret}` }) } }] }, { role: 'tool', tool_call_id: 'call_b', content: 'ok' }] },
    carrier: ['messages'], harmless: hi, textPath: ['messages', 0, 'content'],
  })],
  secret_description: ['secret', (p) => ({ path: PATHS['openai-chat'](false), body: { model: 'gpt-4o', messages: hi, tools: [{ type: 'function', function: { name: ALLOWED_TOOL, description: `default id ${p.secret}`, parameters: { type: 'object' } } }] }, carrier: ['tools'], harmless: [fn(ALLOWED_TOOL)], textPath: ['tools', 0, 'function', 'description'] })],
  secret_user: ['secret', (p) => ({ path: PATHS['openai-chat'](false), body: { model: 'gpt-4o', messages: hi, user: `id ${p.secret}` }, carrier: ['user'], harmless: 'someone', textPath: ['user'] })],
  secret_name: ['secret', (p) => ({ path: PATHS['openai-chat'](false), body: { model: 'gpt-4o', messages: [{ role: 'user', name: `n ${p.secret}`, content: 'hi' }] }, carrier: ['messages'], harmless: hi, textPath: ['messages', 0, 'name'] })],
};

const RESPONSES: Record<string, [Payload['threat'], Builder]> = {
  tool_choice: ['tool', (p) => ({ path: PATHS['openai-responses'](false), body: { model: 'gpt-4o', input: 'hello', tools: [{ type: 'function', name: ALLOWED_TOOL, parameters: { type: 'object' } }], tool_choice: { type: 'function', name: p.tool } }, carrier: ['tool_choice'], harmless: 'auto', textPath: ['input'] })],
  function_call_item: ['tool', (p) => ({
    path: PATHS['openai-responses'](false),
    body: { model: 'gpt-4o', input: [{ role: 'user', content: 'tidy up' }, { type: 'function_call', call_id: 'c1', name: p.tool, arguments: '{}' }, { type: 'function_call_output', call_id: 'c1', output: 'done' }] },
    carrier: ['input'], harmless: 'hello', textPath: ['input', 0, 'content'],
  })],
  tool_definition: ['tool', (p) => ({ path: PATHS['openai-responses'](false), body: { model: 'gpt-4o', input: 'hello', tools: [{ type: 'function', name: ALLOWED_TOOL }, { type: 'function', name: p.tool, parameters: { type: 'object' } }] }, carrier: ['tools'], harmless: [{ type: 'function', name: ALLOWED_TOOL }], textPath: ['input'] })],
  secret_input: ['secret', (p) => ({ path: PATHS['openai-responses'](false), body: { model: 'gpt-4o', input: `remember ${p.secret} please` }, carrier: ['input'], harmless: 'hello', textPath: ['input'] })],
  secret_parts: ['secret', (p) => ({ path: PATHS['openai-responses'](false), body: { model: 'gpt-4o', input: [{ role: 'user', content: [{ type: 'input_text', text: `value ${p.secret} .` }] }] }, carrier: ['input'], harmless: 'hello', textPath: ['input', 0, 'content', 0, 'text'] })],
  secret_instructions: ['secret', (p) => ({ path: PATHS['openai-responses'](false), body: { model: 'gpt-4o', instructions: `use ${p.secret} always`, input: 'hi' }, carrier: ['instructions'], harmless: 'be brief', textPath: ['instructions'] })],
  secret_output: ['secret', (p) => ({
    path: PATHS['openai-responses'](false),
    body: { model: 'gpt-4o', input: [{ role: 'user', content: 'go' }, { type: 'function_call', call_id: 'c2', name: ALLOWED_TOOL, arguments: '{}' }, { type: 'function_call_output', call_id: 'c2', output: `found ${p.secret} here` }] },
    carrier: ['input'], harmless: 'hello', textPath: ['input', 2, 'output'],
  })],
};

const tool = (name: string) => ({ name, description: 'runs it', input_schema: { type: 'object', properties: { q: { type: 'string' } } } });
const ANTHROPIC: Record<string, [Payload['threat'], Builder]> = {
  tool_choice: ['tool', (p) => ({ path: PATHS.anthropic(false), body: { model: 'claude-3-5-sonnet-latest', max_tokens: 64, messages: hi, tools: [tool(ALLOWED_TOOL)], tool_choice: { type: 'tool', name: p.tool } }, carrier: ['tool_choice'], harmless: { type: 'auto' }, textPath: ['messages', 0, 'content'] })],
  tool_use: ['tool', (p) => ({
    path: PATHS.anthropic(false),
    body: { model: 'claude-3-5-sonnet-latest', max_tokens: 64, messages: [user('tidy'), { role: 'assistant', content: [{ type: 'tool_use', id: 'tu1', name: p.tool, input: { table: 'users' } }] }, user([{ type: 'tool_result', tool_use_id: 'tu1', content: 'done' }])] },
    carrier: ['messages'], harmless: hi, textPath: ['messages', 0, 'content'],
  })],
  tool_definition: ['tool', (p) => ({ path: PATHS.anthropic(false), body: { model: 'claude-3-5-sonnet-latest', max_tokens: 64, messages: hi, tools: [tool(ALLOWED_TOOL), tool(p.tool)] }, carrier: ['tools'], harmless: [tool(ALLOWED_TOOL)], textPath: ['messages', 0, 'content'] })],
  secret_system: ['secret', (p) => ({ path: PATHS.anthropic(false), body: { model: 'claude-3-5-sonnet-latest', max_tokens: 64, system: `account ${p.secret} belongs to the user`, messages: hi }, carrier: ['system'], harmless: 'be kind', textPath: ['system'] })],
  secret_content: ['secret', (p) => ({ path: PATHS.anthropic(false), body: { model: 'claude-3-5-sonnet-latest', max_tokens: 64, messages: [user([{ type: 'text', text: `it is ${p.secret} ok` }])] }, carrier: ['messages'], harmless: hi, textPath: ['messages', 0, 'content', 0, 'text'] })],
  secret_tool_result: ['secret', (p) => ({
    path: PATHS.anthropic(false),
    body: { model: 'claude-3-5-sonnet-latest', max_tokens: 64, messages: [user('look'), { role: 'assistant', content: [{ type: 'tool_use', id: 'tu2', name: ALLOWED_TOOL, input: { q: 'x' } }] }, user([{ type: 'tool_result', tool_use_id: 'tu2', content: [{ type: 'text', text: `result ${p.secret} end` }] }])] },
    carrier: ['messages'], harmless: hi, textPath: ['messages', 2, 'content', 0, 'content', 0, 'text'],
  })],
  secret_tool_input: ['secret', (p) => ({
    path: PATHS.anthropic(false),
    body: { model: 'claude-3-5-sonnet-latest', max_tokens: 64, messages: [user('look'), { role: 'assistant', content: [{ type: 'tool_use', id: 'tu3', name: ALLOWED_TOOL, input: { q: `card ${p.secret}`, n: p.secretNumber } }] }, user([{ type: 'tool_result', tool_use_id: 'tu3', content: 'ok' }])] },
    carrier: ['messages'], harmless: hi, textPath: ['messages', 0, 'content'],
  })],
  secret_metadata: ['secret', (p) => ({ path: PATHS.anthropic(false), body: { model: 'claude-3-5-sonnet-latest', max_tokens: 64, messages: hi, metadata: { user_id: `u ${p.secret}` } }, carrier: ['metadata'], harmless: { user_id: 'u1' }, textPath: ['metadata', 'user_id'] })],
};

const spec = (name: string) => ({ toolSpec: { name, description: 'runs it', inputSchema: { json: { type: 'object' } } } });
const bmsg = (role: string, ...content: Json[]) => ({ role, content });
const bhi = [bmsg('user', { text: 'hello' })];
const BEDROCK: Record<string, [Payload['threat'], Builder]> = {
  tool_choice: ['tool', (p) => ({ path: PATHS.bedrock(false), body: { messages: bhi, toolConfig: { tools: [spec(ALLOWED_TOOL)], toolChoice: { tool: { name: p.tool } } } }, carrier: ['toolConfig'], harmless: { tools: [spec(ALLOWED_TOOL)] }, textPath: ['messages', 0, 'content', 0, 'text'] })],
  tool_use: ['tool', (p) => ({
    path: PATHS.bedrock(true),
    body: { messages: [bmsg('user', { text: 'tidy' }), bmsg('assistant', { toolUse: { toolUseId: 't1', name: p.tool, input: { table: 'users' } } }), bmsg('user', { toolResult: { toolUseId: 't1', content: [{ text: 'done' }] } })], toolConfig: { tools: [spec(ALLOWED_TOOL)] } },
    carrier: ['messages'], harmless: bhi, textPath: ['messages', 0, 'content', 0, 'text'],
  })],
  tool_definition: ['tool', (p) => ({ path: PATHS.bedrock(false), body: { messages: bhi, toolConfig: { tools: [spec(ALLOWED_TOOL), spec(p.tool)] } }, carrier: ['toolConfig'], harmless: { tools: [spec(ALLOWED_TOOL)] }, textPath: ['messages', 0, 'content', 0, 'text'] })],
  secret_text: ['secret', (p) => ({ path: PATHS.bedrock(true), body: { messages: [bmsg('user', { text: `remember ${p.secret} ok` })] }, carrier: ['messages'], harmless: bhi, textPath: ['messages', 0, 'content', 0, 'text'] })],
  secret_system: ['secret', (p) => ({ path: PATHS.bedrock(false), body: { system: [{ text: `id ${p.secret}` }], messages: bhi }, carrier: ['system'], harmless: [{ text: 'be kind' }], textPath: ['system', 0, 'text'] })],
  secret_tool_result: ['secret', (p) => ({
    path: PATHS.bedrock(false),
    body: { messages: [bmsg('user', { text: 'go' }), bmsg('assistant', { toolUse: { toolUseId: 't2', name: ALLOWED_TOOL, input: { q: 'x' } } }), bmsg('user', { toolResult: { toolUseId: 't2', content: [{ text: `found ${p.secret} .` }, { json: { n: p.secretNumber } }] } })], toolConfig: { tools: [spec(ALLOWED_TOOL)] } },
    carrier: ['messages'], harmless: bhi, textPath: ['messages', 2, 'content', 0, 'toolResult', 'content', 0, 'text'],
  })],
  secret_metadata: ['secret', (p) => ({ path: PATHS.bedrock(false), body: { messages: bhi, requestMetadata: { ref: `r ${p.secret}` } }, carrier: ['requestMetadata'], harmless: { ref: 'r1' }, textPath: ['requestMetadata', 'ref'] })],
};

const rpc = (id: Json, method: string, params?: Json) => ({ jsonrpc: '2.0', ...(id !== undefined ? { id } : {}), method, ...(params !== undefined ? { params } : {}) });
const MCP: Record<string, [Payload['threat'], Builder]> = {
  tools_call: ['tool', (p) => ({ path: PATHS.mcp(false), body: rpc(1, 'tools/call', { name: p.tool, arguments: { table: 'users' } }), carrier: ['params'], harmless: { name: ALLOWED_TOOL, arguments: { q: 'x' } }, textPath: ['params', 'arguments', 'table'] })],
  tools_call_string_id: ['tool', (p) => ({ path: PATHS.mcp(false), body: rpc('abc', 'tools/call', { name: p.tool, arguments: { q: 'x' } }), carrier: ['params'], harmless: { name: ALLOWED_TOOL }, textPath: ['params', 'arguments', 'q'] })],
  batch_call: ['tool', (p) => ({ path: PATHS.mcp(false), body: [rpc(1, 'prompts/get', { name: 'p', arguments: { topic: 'x' } }), rpc(2, 'tools/call', { name: p.tool, arguments: {} })], carrier: [1, 'params'], harmless: { name: ALLOWED_TOOL, arguments: {} }, textPath: [0, 'params', 'arguments', 'topic'] })],
  batch_notification: ['tool', (p) => ({ path: PATHS.mcp(false), body: [{ jsonrpc: '2.0', method: 'notifications/initialized' }, rpc(3, 'tools/call', { name: p.tool, arguments: { q: 'y' } })], carrier: [1, 'params'], harmless: { name: ALLOWED_TOOL, arguments: {} }, textPath: [1, 'params', 'arguments', 'q'] })],
  secret_arguments: ['secret', (p) => ({ path: PATHS.mcp(false), body: rpc(4, 'tools/call', { name: ALLOWED_TOOL, arguments: { q: `look up ${p.secret}` } }), carrier: ['params'], harmless: { name: ALLOWED_TOOL, arguments: { q: 'x' } }, textPath: ['params', 'arguments', 'q'] })],
  secret_number: ['secret', (p) => ({ path: PATHS.mcp(false), body: rpc(5, 'tools/call', { name: ALLOWED_TOOL, arguments: { n: p.secretNumber, q: 'x' } }), carrier: ['params'], harmless: { name: ALLOWED_TOOL, arguments: { q: 'x' } }, textPath: ['params', 'arguments', 'q'] })],
  secret_prompt: ['secret', (p) => ({ path: PATHS.mcp(false), body: rpc(6, 'prompts/get', { name: 'summary', arguments: { topic: `t ${p.secret}` } }), carrier: ['params'], harmless: { name: 'summary', arguments: { topic: 'x' } }, textPath: ['params', 'arguments', 'topic'] })],
  secret_batch: ['secret', (p) => ({ path: PATHS.mcp(false), body: [rpc(7, 'tools/list'), rpc(8, 'tools/call', { name: ALLOWED_TOOL, arguments: { q: `x ${p.secret} y` } })], carrier: [1, 'params'], harmless: { name: ALLOWED_TOOL, arguments: {} }, textPath: [1, 'params', 'arguments', 'q'] })],
};

const BUILDERS: Record<Adapter, Record<string, [Payload['threat'], Builder]>> = {
  'openai-chat': CHAT,
  'openai-responses': RESPONSES,
  anthropic: ANTHROPIC,
  bedrock: BEDROCK,
  mcp: MCP,
};

/** Every hostile payload kind, as [adapter, name, threat]. */
export const PAYLOAD_KINDS: ReadonlyArray<{ adapter: Adapter; name: string; threat: Payload['threat'] }> = ADAPTERS.flatMap((adapter) =>
  Object.entries(BUILDERS[adapter]).map(([name, [threat]]) => ({ adapter, name, threat })),
);

export function buildPayload(adapter: Adapter, name: string, plant: Plant): Payload {
  const entry = BUILDERS[adapter][name];
  if (!entry) throw new Error(`no payload ${adapter}/${name}`);
  const [threat, build] = entry;
  return { adapter, name: `${adapter}/${name}`, threat, ...build(plant) };
}

/** A harmless request for an answer case: the upstream's answer is what is hostile. */
export function benignRequest(adapter: Adapter, stream: boolean): { path: string; body: Json } {
  const path = PATHS[adapter](stream);
  switch (adapter) {
    case 'openai-chat':
      return { path, body: { model: 'gpt-4o', messages: hi, tools: [fn(ALLOWED_TOOL)], ...(stream ? { stream: true } : {}) } };
    case 'openai-responses':
      return { path, body: { model: 'gpt-4o', input: 'hello', tools: [{ type: 'function', name: ALLOWED_TOOL }], ...(stream ? { stream: true } : {}) } };
    case 'anthropic':
      return { path, body: { model: 'claude-3-5-sonnet-latest', max_tokens: 64, messages: hi, tools: [tool(ALLOWED_TOOL)], ...(stream ? { stream: true } : {}) } };
    case 'bedrock':
      return { path, body: { messages: bhi, toolConfig: { tools: [spec(ALLOWED_TOOL)] } } };
    case 'mcp':
      return { path, body: rpc(9, 'tools/call', { name: ALLOWED_TOOL, arguments: { q: 'weather' } }) };
  }
}
