import { describe, expect, it } from 'vitest';
import { OPCODE } from './frames.js';
import { genericJudge } from './generic-judge.js';
import type { SocketSession } from './session.js';

/** A session that records what the judge asked of it; every message is allowed. */
function fakeSession() {
  const decided: unknown[] = [];
  const session = {
    messageCall: (facts: object) => ({ ...facts, id: 'm' }),
    prepareAndDecide: async (call: unknown) => (decided.push(call), { final: { decision: 'allow' }, findings: [], rewrites: [], stripTools: [] }),
    settle: () => undefined,
    recordMessage: () => undefined,
  } as unknown as SocketSession;
  return { session, decided };
}

const text = (s: string) => ({ opcode: OPCODE.text, payload: Buffer.from(s) });

describe('genericJudge', () => {
  it('reads every string of a JSON message and forwards it', async () => {
    const { session, decided } = fakeSession();
    expect(await genericJudge(session).message('client', text('{"a":"hello","b":["world"]}'))).toEqual({ kind: 'forward' });
    expect((decided[0] as { texts: Array<{ text: string }> }).texts.map((t) => t.text)).toEqual(['hello', 'world']);
  });

  it('closes with 1007 on JSON with a repeated key: the checks would read one value, the server perhaps the other', async () => {
    const { session, decided } = fakeSession();
    const action = await genericJudge(session).message('client', text('{"msg":"my card is 4111 1111 1111 1111","msg":"hi"}'));
    expect(action).toMatchObject({ kind: 'close', code: 1007 });
    expect(decided).toHaveLength(0);
  });

  it('reads text that is not JSON whole', async () => {
    const { session, decided } = fakeSession();
    expect(await genericJudge(session).message('client', text('plain {"a":1,"a":2}'))).toEqual({ kind: 'forward' });
    expect((decided[0] as { texts: Array<{ text: string }> }).texts.map((t) => t.text)).toEqual(['plain {"a":1,"a":2}']);
  });
});
