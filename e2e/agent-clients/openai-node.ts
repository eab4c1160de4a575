// A Node.js agent as a user writes one in proxy-env mode: the official openai SDK, with undici's
// EnvHttpProxyAgent so that it honours the injected HTTPS_PROXY/NO_PROXY (Node's own fetch ignores
// them), and the namespace CA trusted through the injected NODE_EXTRA_CA_CERTS. Runs in the e2e agent
// image; prints one JSON line with what each call got.
//
//   node dist/e2e/agent-clients/openai-node.js
import OpenAI from 'openai';
import { EnvHttpProxyAgent, fetch } from 'undici';

interface Outcome {
  status: number;
  decision?: string | null;
  content?: string | null;
  error?: string;
}

const client = new OpenAI({
  apiKey: 'sk-e2e-node-not-logged',
  maxRetries: 0,
  fetch: fetch as unknown as typeof globalThis.fetch,
  fetchOptions: { dispatcher: new EnvHttpProxyAgent() } as Record<string, unknown>,
});

async function call(run: () => Promise<{ data: unknown; response: Response }>, read: (data: unknown) => string | null | undefined): Promise<Outcome> {
  try {
    const { data, response } = await run();
    return { status: response.status, decision: response.headers.get('x-chaperone-decision'), content: read(data) ?? null };
  } catch (err) {
    if (err instanceof OpenAI.APIError) return { status: err.status ?? 0, decision: err.headers?.get('x-chaperone-decision') ?? null, error: err.message };
    return { status: 0, error: err instanceof Error ? `${err.name}: ${err.message} ${String((err as { cause?: unknown }).cause ?? '')}` : String(err) };
  }
}

const chat = (content: string) => () =>
  client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }).withResponse();
const firstChoice = (d: unknown) => (d as OpenAI.Chat.Completions.ChatCompletion).choices?.[0]?.message?.content;

const result = {
  allow: await call(chat('node: summarise the news'), firstChoice),
  redact: await call(chat('node: charge card 4111 1111 1111 1111 please'), firstChoice),
  deny: await call(() => client.embeddings.create({ model: 'text-embedding-3-small', input: 'node: embed me' }).withResponse(), () => 'embedded'),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
