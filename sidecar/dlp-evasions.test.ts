// DLP evasions (issue 15, item 3) through the running sidecar: what reaches the provider when a card
// number is hidden with a zero-width space, split over two messages, placed in a field DLP did not
// read, or in the URL's query string.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../e2e/harness/curl.js';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';

let world: World;
let sidecar: SidecarProcess;

const POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: dlp, namespace: agents, generation: 1}
spec:
  mode: enforce
  dlp: {mode: redact, sensitivity: medium}
`;

beforeAll(async () => {
  world = await createWorld();
  const policy = await writePolicy(world.dir, 'dlp-evasions', POLICY);
  sidecar = await spawnSidecar(['--policy', policy, '--ca-dir', world.caDir, ...world.upstreamFlags]);
});
afterAll(async () => {
  await sidecar?.stop();
  await world?.close();
});

const chat = (body: object, path = '/openai/v1/chat/completions') =>
  curl(['-H', 'content-type: application/json', '-H', 'x-chaperone-agent: evader', '-d', JSON.stringify(body), `${sidecar.proxyUrl}${path}`]);
const lastSent = (): string => JSON.stringify(world.tls.received.at(-1)!.json);

describe('DLP evasions through the sidecar', () => {
  it('redacts a card number with a zero-width space and a Unicode hyphen inside, whole', async () => {
    const r = await chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'card 4111\u200b1111\u20111111\u20111111 thanks' }] });
    expect(r.status).toBe(200);
    expect(r.headers['x-chaperone-decision']).toBe('redact');
    const sent = world.tls.received.at(-1)!.json as { messages: Array<{ content: string }> };
    expect(sent.messages[0]!.content).toBe('card [REDACTED:credit_card] thanks');
  });

  it('redacts both halves of a card number split over two messages', async () => {
    const r = await chat({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'my card is 4111 1111' }, { role: 'user', content: '1111 1111 and that is all' }],
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-chaperone-decision']).toBe('redact');
    expect(lastSent()).not.toMatch(/4111|1111/);
  });

  it('reads name, user and tool descriptions', async () => {
    const r = await chat({
      model: 'gpt-4o-mini',
      user: 'jane.doe@example.com',
      messages: [{ role: 'user', name: 'ssn 123-45-6789', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'pay', description: 'default card 4111 1111 1111 1111', parameters: { type: 'object', properties: {} } } }],
    });
    expect(r.status).toBe(200);
    expect(lastSent()).not.toMatch(/jane\.doe|123-45-6789|4111/);
  });

  it('refuses a card number in the query string (it cannot be redacted)', async () => {
    const before = world.tls.received.length;
    const r = await chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, '/openai/v1/chat/completions?ref=4111%201111%201111%201111');
    expect(r.status).toBe(403);
    expect(r.headers['x-chaperone-rule']).toBe('dlp');
    expect(world.tls.received.length).toBe(before);
    expect(JSON.stringify(sidecar.lines)).not.toMatch(/4111/);
  });
});
