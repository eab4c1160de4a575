// The tools section: which tools each agent may use.
//
// Who may use what:
// - An agent with an entry in `agents` may use the tools its `permitted` globs name, except those
//   its `forbidden` globs name (forbidden wins). With no `permitted` list (or an empty one) it may
//   use every tool that is not forbidden.
// - An agent without an entry gets `defaultAction` (allow: any tool; deny: none).
// - Tool names are matched case-sensitively against `permitted` and case-insensitively against
//   `forbidden`, so "Shell_Exec" cannot slip past a rule written for "shell_exec".
//
// Where it is enforced:
// - request: every tool call the request carries (a forced tool_choice, the calls of the last
//   assistant turn, an MCP tools/call) → deny, naming the tool.
//   With stripForbidden, tools the request offers that the agent may not use → `redact` with
//   stripTools: the data path removes them (adapter.removeTools) and forwards the call.
// - response: a tool call the model proposes → deny (the data path replaces the answer); tools a
//   server offers (an MCP tools/list result) that the agent may not use → `redact` with stripTools:
//   the data path removes them from the answer.
// - streamEvent: a tool_call event → deny (the data path cuts the stream before it); a tools_offered
//   event (an MCP tools/list result in a stream) → `redact` with stripTools: the frame goes out without them.
import { policyKey, type ToolsSpec } from '../../api/index.js';
import { anyNameGlob } from '../../api/glob.js';
import type { Check } from './pipeline.js';
import type { Verdict } from './verdict.js';

type Standing = 'allowed' | 'forbidden' | 'not_permitted' | 'no_entry';

function standing(spec: ToolsSpec, agent: string, tool: string): Standing {
  const entry = spec.agents?.find((a) => a?.name === agent);
  if (!entry) return (spec.defaultAction ?? 'allow') === 'allow' ? 'allowed' : 'no_entry';
  if (anyNameGlob(entry.forbidden, tool, true)) return 'forbidden';
  if (entry.permitted && entry.permitted.length > 0 && !anyNameGlob(entry.permitted, tool)) return 'not_permitted';
  return 'allowed';
}

/** May this agent use this tool under this tools spec? */
export function toolAllowed(spec: ToolsSpec, agent: string, tool: string): boolean {
  return standing(spec, agent, tool) === 'allowed';
}

/** Why a tool is refused, in words for the agent. */
function why(s: Exclude<Standing, 'allowed'>, agent: string): string {
  switch (s) {
    case 'forbidden':
      return `forbidden for agent ${agent}`;
    case 'not_permitted':
      return `not among the tools agent ${agent} is permitted to use`;
    case 'no_entry':
      return `not permitted: agent ${agent} has no tool permissions`;
  }
}

/** A deny verdict for the first refused tool among `names`, if any is refused. */
function denyTools(spec: ToolsSpec, agent: string, names: Iterable<string>, policy: string, subject: (name: string) => string): Verdict | undefined {
  for (const name of names) {
    const s = standing(spec, agent, name);
    if (s !== 'allowed') return { decision: 'deny', rule: 'tools', policy, reason: `${subject(name)} is ${why(s, agent)}` };
  }
  return undefined;
}

const modelCalled = (name: string): string => `the model called tool ${name}, which`;

/** A server's tool list (MCP tools/list) offers only what the agent may use: the rest is removed. */
function stripOffered(spec: ToolsSpec, agent: string, offered: readonly string[], policy: string): Verdict | undefined {
  const strip = [...new Set(offered.filter((name) => !toolAllowed(spec, agent, name)))];
  if (strip.length === 0) return undefined;
  return { decision: 'redact', rule: 'tools', policy, stripTools: strip, reason: `removed from the server's tool list, tools agent ${agent} may not use: ${listOf(strip)}` };
}

/** Tool names for a reason: the first five, and how many more. */
const listOf = (names: readonly string[]): string => (names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`);

export const toolsCheck: Check = {
  section: 'tools',
  request(call, policy) {
    const spec = policy.spec.tools;
    if (!spec) return undefined;
    const key = policyKey(policy);
    const denied = denyTools(spec, call.agent, call.toolCalls.map((c) => c.name), key, (name) => `tool ${name}`);
    if (denied) return denied;
    if (spec.stripForbidden) {
      const strip = [...new Set(call.toolsDefined.filter((name) => !toolAllowed(spec, call.agent, name)))];
      if (strip.length > 0) return { decision: 'redact', rule: 'tools', policy: key, stripTools: strip, reason: `removed tools agent ${call.agent} may not use: ${listOf(strip)}` };
    }
    return undefined;
  },
  response(call, facts, policy) {
    const spec = policy.spec.tools;
    if (!spec) return undefined;
    const key = policyKey(policy);
    const denied = denyTools(spec, call.agent, facts.toolCalls.map((c) => c.name), key, modelCalled);
    if (denied) return denied;
    return stripOffered(spec, call.agent, (facts.toolsOffered ?? []).map((t) => t.name), key);
  },
  streamEvent(call, event, policy) {
    const spec = policy.spec.tools;
    if (!spec) return undefined;
    if (event.type === 'tools_offered') return stripOffered(spec, call.agent, event.tools.map((t) => t.name), policyKey(policy));
    if (event.type !== 'tool_call') return undefined;
    return denyTools(spec, call.agent, [event.name], policyKey(policy), modelCalled);
  },
};
