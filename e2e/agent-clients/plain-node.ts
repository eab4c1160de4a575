// A Node.js agent that knows nothing about proxies: Node's own fetch and the official openai SDK
// with its defaults. Node 20 ignores HTTP(S)_PROXY, so only transparent capture governs it; it
// trusts the interception CA through NODE_EXTRA_CA_CERTS, as the injector sets it. Prints one JSON
// line with what each call got.
//
//   node dist/e2e/agent-clients/plain-node.js [--tool NAME]   (NAME: a tool the policy forbids)
import OpenAI from 'openai';
import { parseArgs } from 'node:util';

interface Outcome {
  status: number;
  decision?: string | null;
  rule?: string | null;
  content?: string | null;
  error?: string;
}

const { values } = parseArgs({ options: { tool: { type: 'string', default: 'delete_database' } } });
const tool = values.tool!;
const client = new OpenAI({ apiKey: 'sk-plain-node-not-logged', maxRetries: 0 });
const chat = (content: string, extra: object = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }], ...extra });
const forcing = {
  tools: [{ type: 'function' as const, function: { name: tool, parameters: { type: 'object' } } }],
  tool_choice: { type: 'function' as const, function: { name: tool } },
};

async function viaFetch(body: object, headers: Record<string, string> = {}): Promise<Outcome> {
  try {
    const r = await fetch('https://api.openai.com/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-plain-node-not-logged', ...headers },
      body: JSON.stringify(body),
    });
    const json = (await r.json()) as { choices?: { message?: { content?: string } }[] };
    return { status: r.status, decision: r.headers.get('x-chaperone-decision'), rule: r.headers.get('x-chaperone-rule'), content: json.choices?.[0]?.message?.content ?? null };
  } catch (err) {
    return { status: 0, error: `${(err as Error).message} ${String((err as { cause?: unknown }).cause ?? '')}` };
  }
}

async function viaSdk(body: ReturnType<typeof chat>): Promise<Outcome> {
  try {
    const { data, response } = await client.chat.completions.create(body).withResponse();
    return { status: response.status, decision: response.headers.get('x-chaperone-decision'), content: data.choices?.[0]?.message?.content ?? null };
  } catch (err) {
    if (err instanceof OpenAI.APIError) return { status: err.status ?? 0, decision: err.headers?.get('x-chaperone-decision') ?? null, rule: err.headers?.get('x-chaperone-rule') ?? null, error: err.message };
    return { status: 0, error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

const result = {
  fetch: await viaFetch(chat('plain fetch: hello')),
  // A name of its own choosing: recorded as a sub-agent, never a wider identity.
  fetchAsAdmin: await viaFetch(chat('plain fetch, claiming another name', forcing), { 'x-chaperone-agent': 'admin' }),
  sdk: await viaSdk(chat('plain sdk: hello')),
  sdkForbiddenTool: await viaSdk(chat('plain sdk: use the tool', forcing)),
};
process.stdout.write(JSON.stringify(result) + '\n');
