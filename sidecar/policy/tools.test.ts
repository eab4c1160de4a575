import { describe, expect, it } from 'vitest';
import { type ToolsSpec } from '../../api/index.js';
import type { Call, ResponseFacts } from '../call.js';
import { Pipeline } from './pipeline.js';
import { toolAllowed, toolsCheck } from './tools.js';
import { testCall, testPolicy } from './testing.js';

const policy = testPolicy;

const call = (agent: string, extra: Partial<Call> = {}): Call => testCall({ agent, ...extra });

const SPEC: ToolsSpec = {
  defaultAction: 'deny',
  agents: [
    { name: 'researcher', permitted: ['web_search', 'file_*'], forbidden: ['file_delete'] },
    { name: 'ops', forbidden: ['shell_*'] },
    { name: 'empty', permitted: [] },
  ],
};

const offer = (...names: string[]) => names.map((name) => ({ name, digest: `d-${name}` }));

describe('toolAllowed', () => {
  it.each<[string, string, boolean]>([
    ['researcher', 'web_search', true],
    ['researcher', 'file_reader', true],
    ['researcher', 'file_delete', false], // forbidden wins over a permitted glob
    ['researcher', 'File_Delete', false], // forbidden ignores case
    ['researcher', 'Web_Search', false], // permitted does not
    ['researcher', 'shell_exec', false], // not permitted
    ['ops', 'anything', true], // no permitted list: all but forbidden
    ['ops', 'shell_exec', false],
    ['empty', 'anything', true], // empty permitted list: same
    ['stranger', 'web_search', false], // no entry: defaultAction deny
  ])('%s may use %s → %s', (agent, tool, want) => {
    expect(toolAllowed(SPEC, agent, tool)).toBe(want);
  });
  it('gives agents without an entry defaultAction allow (also when absent)', () => {
    expect(toolAllowed({ defaultAction: 'allow' }, 'x', 'shell_exec')).toBe(true);
    expect(toolAllowed({}, 'x', 'shell_exec')).toBe(true);
  });
});

describe('toolsCheck', () => {
  const pipeline = new Pipeline([toolsCheck]);
  const p = policy({ tools: SPEC });

  describe('request', () => {
    it.each<[string, Partial<Call>, string, object]>([
      ['a permitted tool call', { toolCalls: [{ name: 'web_search' }] }, 'researcher', { decision: 'allow' }],
      ['a forbidden tool call', { toolCalls: [{ name: 'web_search' }, { name: 'file_delete' }] }, 'researcher',
        { decision: 'deny', rule: 'tools', policy: 'ns/p', reason: 'tool file_delete is forbidden for agent researcher' }],
      ['an unlisted tool', { toolCalls: [{ name: 'send_email' }] }, 'researcher',
        { decision: 'deny', reason: 'tool send_email is not among the tools agent researcher is permitted to use' }],
      ['an agent without entry under default deny', { toolCalls: [{ name: 'web_search' }] }, 'stranger',
        { decision: 'deny', reason: 'tool web_search is not permitted: agent stranger has no tool permissions' }],
      ['an MCP tools/call', { provider: 'mcp', operation: 'tools/call', toolCalls: [{ name: 'shell_exec', arguments: { cmd: 'ls' } }] }, 'ops',
        { decision: 'deny', reason: 'tool shell_exec is forbidden for agent ops' }],
      ['offered tools alone do not deny', { toolsDefined: ['shell_exec'] }, 'ops', { decision: 'allow' }],
    ])('%s', (_name, extra, agent, want) => {
      expect(pipeline.evaluateRequest(call(agent, extra), [p]).final).toMatchObject(want);
    });

    it('strips offered tools the agent may not use when stripForbidden is set', () => {
      const strip = policy({ tools: { ...SPEC, stripForbidden: true } });
      const out = pipeline.evaluateRequest(call('researcher', { toolsDefined: ['web_search', 'file_delete', 'shell_exec', 'file_delete'] }), [strip]);
      expect(out.final).toMatchObject({ decision: 'redact', rule: 'tools', policy: 'ns/p', stripTools: ['file_delete', 'shell_exec'] });
      expect(out.final.reason).toBe('removed tools agent researcher may not use: file_delete, shell_exec');
      expect(out.stripTools).toEqual(['file_delete', 'shell_exec']);
    });
    it('still denies a forbidden call when stripping', () => {
      const strip = policy({ tools: { ...SPEC, stripForbidden: true } });
      const out = pipeline.evaluateRequest(call('researcher', { toolsDefined: ['file_delete'], toolCalls: [{ name: 'file_delete' }] }), [strip]);
      expect(out.final.decision).toBe('deny');
    });
    it('strips nothing when every offered tool is allowed', () => {
      const strip = policy({ tools: { ...SPEC, stripForbidden: true } });
      expect(pipeline.evaluateRequest(call('researcher', { toolsDefined: ['web_search'] }), [strip]).final.decision).toBe('allow');
    });
    it('audit mode notes instead of stripping', () => {
      const strip = policy({ tools: { ...SPEC, stripForbidden: true, mode: 'audit' } });
      const out = pipeline.evaluateRequest(call('researcher', { toolsDefined: ['shell_exec'] }), [strip]);
      expect(out.final).toMatchObject({ decision: 'audit', rule: 'tools' });
      expect(out.stripTools).toEqual([]);
    });
  });

  describe('response', () => {
    const facts = (...names: string[]): ResponseFacts => ({ toolCalls: names.map((name) => ({ name })), texts: [] });
    it('denies a proposed call of a forbidden tool', () => {
      expect(pipeline.evaluateResponse(call('ops'), facts('read', 'shell_exec'), [p]).final).toEqual({
        decision: 'deny', rule: 'tools', policy: 'ns/p', reason: 'the model called tool shell_exec, which is forbidden for agent ops',
      });
    });
    it('lets permitted proposals through', () => {
      expect(pipeline.evaluateResponse(call('researcher'), facts('web_search', 'file_reader'), [p]).final.decision).toBe('allow');
    });
    it("takes the tools the agent may not use out of a server's tool list (MCP tools/list), whatever stripForbidden says", () => {
      const offered: ResponseFacts = { toolCalls: [], texts: [], toolsOffered: offer('web_search', 'file_delete', 'shell_exec', 'file_delete') };
      const out = pipeline.evaluateResponse(call('researcher'), offered, [p]);
      expect(out.final).toMatchObject({ decision: 'redact', rule: 'tools', stripTools: ['file_delete', 'shell_exec'] });
      expect(out.final.reason).toBe("removed from the server's tool list, tools agent researcher may not use: file_delete, shell_exec");
      expect(pipeline.evaluateResponse(call('researcher'), { toolCalls: [], texts: [], toolsOffered: offer('web_search') }, [p]).final.decision).toBe('allow');
      // In audit mode nothing is taken out: the list goes as it came, noted.
      const audited = pipeline.evaluateResponse(call('researcher'), offered, [policy({ tools: { ...SPEC, mode: 'audit' } })]);
      expect(audited.final.decision).toBe('audit');
      expect(audited.stripTools).toEqual([]);
    });
  });

  describe('streamEvent', () => {
    it('denies a tool_call event of a forbidden tool, ignores other events', () => {
      expect(pipeline.evaluateStreamEvent(call('ops'), { type: 'tool_call', name: 'shell_rm', id: 'c1' }, [p]).final).toMatchObject({ decision: 'deny', rule: 'tools' });
      expect(pipeline.evaluateStreamEvent(call('ops'), { type: 'tool_call', name: 'read' }, [p]).final.decision).toBe('allow');
      expect(pipeline.evaluateStreamEvent(call('ops'), { type: 'text', text: 'shell_exec' }, [p]).final.decision).toBe('allow');
    });
    it('takes forbidden tools out of a tools_offered event', () => {
      const out = pipeline.evaluateStreamEvent(call('ops'), { type: 'tools_offered', tools: offer('read', 'shell_rm') }, [p]);
      expect(out.final).toMatchObject({ decision: 'redact', rule: 'tools' });
      expect(out.stripTools).toEqual(['shell_rm']);
    });
    it('is looked at only for policies with an active tools section', () => {
      expect(pipeline.inspectsResponses([p])).toBe(true);
      expect(pipeline.inspectsResponses([policy({ tools: { ...SPEC, mode: 'off' } })])).toBe(false);
    });
  });
});
