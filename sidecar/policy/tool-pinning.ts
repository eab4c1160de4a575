// The toolPinning section: an MCP server's tools are what they were when first listed.
//
// The data path pins each server's tool definitions at its first tools/list in the namespace and
// puts the pins on the call (call.toolPins, tool-pins/book.ts). This check compares:
// - response / streamEvent: a tools/list answer offering a tool whose definition changed since it
//   was pinned, or one that was never pinned (a "rug pull": same name, new instructions) → `redact`
//   with stripTools: the agent's model never reads the new definition (audit mode: noted only).
// - request: an MCP tools/call of such a tool → deny, with how a person re-pins the server.
// Pins that cannot be read cannot vouch for anything: deny (fail closed; audit mode notes it).
import { policyKey } from '../../api/index.js';
import type { OfferedTool, ToolPinView } from '../call.js';
import { driftOf, hasDrift } from './tool-pin-drift.js';
import type { Check } from './pipeline.js';
import type { Verdict } from './verdict.js';

const unreadable = (pins: ToolPinView, policy: string): Verdict => ({
  decision: 'deny',
  rule: 'tool_pinning',
  policy,
  reason: `the tool pins of MCP server ${pins.server} cannot be read, so its tools cannot be vouched for: ${pins.unavailable}`,
});

function judgeOffered(pins: ToolPinView | undefined, offered: readonly OfferedTool[], policy: string): Verdict | undefined {
  if (!pins || offered.length === 0) return undefined;
  if (pins.unavailable !== undefined) return unreadable(pins, policy);
  const drift = driftOf(pins.pinned, offered);
  if (!hasDrift(drift)) return undefined;
  const parts = [drift.changed.length ? `changed since they were pinned: ${drift.changed.join(', ')}` : '', drift.added.length ? `never pinned: ${drift.added.join(', ')}` : ''];
  return {
    decision: 'redact',
    rule: 'tool_pinning',
    policy,
    stripTools: [...drift.changed, ...drift.added],
    reason: `removed from MCP server ${pins.server}'s tool list, tools ${parts.filter(Boolean).join('; ')}; ${pins.howToRepin}`,
  };
}

export const toolPinningCheck: Check = {
  section: 'toolPinning',
  request(call, policy) {
    const pins = call.toolPins;
    if (!pins || call.provider !== 'mcp' || call.toolCalls.length === 0) return undefined;
    if (pins.unavailable !== undefined) return unreadable(pins, policyKey(policy));
    // Never listed yet: nothing is pinned to compare with (its first tools/list pins it).
    if (pins.pinned.size === 0 && pins.current.size === 0) return undefined;
    for (const { name } of call.toolCalls) {
      const pinned = pins.pinned.get(name);
      const now = pins.current.get(name);
      const why = pinned === undefined ? 'was never pinned' : now !== undefined && now !== pinned ? 'changed since it was pinned' : undefined;
      if (why) return { decision: 'deny', rule: 'tool_pinning', policy: policyKey(policy), reason: `tool ${name} of MCP server ${pins.server} ${why}; ${pins.howToRepin}` };
    }
    return undefined;
  },
  response(call, facts, policy) {
    return judgeOffered(call.toolPins, facts.toolsOffered ?? [], policyKey(policy));
  },
  streamEvent(call, event, policy) {
    return event.type === 'tools_offered' ? judgeOffered(call.toolPins, event.tools, policyKey(policy)) : undefined;
  },
};
