import { describe, expect, it } from 'vitest';
import type { Call, OfferedTool, ToolPinView } from '../call.js';
import { Pipeline } from './pipeline.js';
import { toolPinningCheck } from './tool-pinning.js';
import { testCall, testPolicy } from './testing.js';

const pipeline = new Pipeline([toolPinningCheck]);
const enforce = testPolicy({ toolPinning: {} });
const audit = testPolicy({ toolPinning: { mode: 'audit' } });

const pins = (pinned: Record<string, string>, current: Record<string, string> = {}, unavailable?: string): ToolPinView => ({
  server: 'mcp.example.com:443/mcp',
  pinned: new Map(Object.entries(pinned)),
  current: new Map(Object.entries(current)),
  ...(unavailable ? { unavailable } : {}),
  howToRepin: 'a person re-pins it: kubectl chaperone repin KEY',
});
const mcpCall = (toolPins: ToolPinView | undefined, ...tools: string[]): Call =>
  testCall({ provider: 'mcp', operation: 'tools/call', host: 'mcp.example.com', path: '/mcp', toolCalls: tools.map((name) => ({ name })), ...(toolPins ? { toolPins } : {}) });
const offered = (tools: Record<string, string>): OfferedTool[] => Object.entries(tools).map(([name, digest]) => ({ name, digest }));
const listing = (toolPins: ToolPinView, tools: Record<string, string>) => ({ call: mcpCall(toolPins), facts: { toolCalls: [], texts: [], toolsOffered: offered(tools) } });

describe('toolPinning: a tools/list answer', () => {
  it('passes when every tool is as pinned', () => {
    const { call, facts } = listing(pins({ echo: 'd1', search: 'd2' }), { echo: 'd1', search: 'd2' });
    expect(pipeline.evaluateResponse(call, facts, [enforce]).final.decision).toBe('allow');
  });

  it('takes out a tool whose definition changed (a rug pull) and one never pinned, naming both and how to re-pin', () => {
    const { call, facts } = listing(pins({ echo: 'd1', search: 'd2' }), { echo: 'd1', search: 'CHANGED', exfiltrate: 'd3' });
    const out = pipeline.evaluateResponse(call, facts, [enforce]);
    expect(out.final).toMatchObject({ decision: 'redact', rule: 'tool_pinning', policy: 'ns/p' });
    expect(out.stripTools).toEqual(['search', 'exfiltrate']);
    expect(out.final.reason).toBe(
      "removed from MCP server mcp.example.com:443/mcp's tool list, tools changed since they were pinned: search; never pinned: exfiltrate; a person re-pins it: kubectl chaperone repin KEY",
    );
  });

  it('in audit mode notes the change and takes nothing out', () => {
    const { call, facts } = listing(pins({ search: 'd2' }), { search: 'CHANGED' });
    const out = pipeline.evaluateResponse(call, facts, [audit]);
    expect(out.final.decision).toBe('audit');
    expect(out.stripTools).toEqual([]);
  });

  it('refuses the list when the pins cannot be read (fail closed)', () => {
    const { call, facts } = listing(pins({}, {}, 'the API server did not answer'), { echo: 'd1' });
    expect(pipeline.evaluateResponse(call, facts, [enforce]).final).toMatchObject({ decision: 'deny', rule: 'tool_pinning', reason: expect.stringContaining('cannot be read') });
  });

  it('judges a streamed tools/list the same way', () => {
    const out = pipeline.evaluateStreamEvent(mcpCall(pins({ echo: 'd1' })), { type: 'tools_offered', tools: offered({ echo: 'd9' }) }, [enforce]);
    expect(out.final).toMatchObject({ decision: 'redact', rule: 'tool_pinning' });
    expect(out.stripTools).toEqual(['echo']);
  });

  it('has nothing to say without pins on the call (no policy pins tools) or about other answers', () => {
    expect(pipeline.evaluateResponse(mcpCall(undefined), { toolCalls: [], texts: [], toolsOffered: offered({ echo: 'x' }) }, [enforce]).final.decision).toBe('allow');
    expect(pipeline.evaluateResponse(mcpCall(pins({ echo: 'd1' })), { toolCalls: [], texts: [] }, [enforce]).final.decision).toBe('allow');
  });
});

describe('toolPinning: a tools/call', () => {
  it('denies a call of a tool that changed since it was pinned, or was never pinned', () => {
    expect(pipeline.evaluateRequest(mcpCall(pins({ search: 'd2' }, { search: 'CHANGED' }), 'search'), [enforce]).final).toEqual({
      decision: 'deny', rule: 'tool_pinning', policy: 'ns/p',
      reason: 'tool search of MCP server mcp.example.com:443/mcp changed since it was pinned; a person re-pins it: kubectl chaperone repin KEY',
    });
    expect(pipeline.evaluateRequest(mcpCall(pins({ search: 'd2' }), 'exfiltrate'), [enforce]).final).toMatchObject({ decision: 'deny', reason: expect.stringContaining('was never pinned') });
  });

  it('passes a pinned tool as it was, and any call to a server never listed (its first tools/list pins it)', () => {
    expect(pipeline.evaluateRequest(mcpCall(pins({ search: 'd2' }, { search: 'd2' }), 'search'), [enforce]).final.decision).toBe('allow');
    expect(pipeline.evaluateRequest(mcpCall(pins({ search: 'd2' }), 'search'), [enforce]).final.decision).toBe('allow');
    expect(pipeline.evaluateRequest(mcpCall(pins({}), 'anything'), [enforce]).final.decision).toBe('allow');
  });

  it('denies when the pins cannot be read, notes it in audit mode', () => {
    const call = mcpCall(pins({}, {}, 'no ConfigMap chaperone-tool-pins yet'), 'search');
    expect(pipeline.evaluateRequest(call, [enforce]).final).toMatchObject({ decision: 'deny', reason: expect.stringContaining('no ConfigMap') });
    expect(pipeline.evaluateRequest(call, [audit]).final.decision).toBe('audit');
  });

  it('ignores calls that are not MCP tools/call', () => {
    expect(pipeline.evaluateRequest(testCall({ toolCalls: [{ name: 'x' }], toolPins: pins({ y: 'd' }) }), [enforce]).final.decision).toBe('allow');
  });
});
