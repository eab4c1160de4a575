// Host patterns for the intercept list: a leading `*.` stands for one or more labels
// (`*.openai.azure.com` matches `x.openai.azure.com` and `a.b.openai.azure.com`, not the bare domain);
// any other `*` stands for part of one label (`*-aiplatform.googleapis.com`, `bedrock-runtime.*.amazonaws.com`).
// Matching is case-insensitive and ignores a trailing dot.

const compiled = new Map<string, RegExp>();

function compile(pattern: string): RegExp {
  let p = pattern.trim().toLowerCase().replace(/\.$/, '');
  let prefix = '';
  if (p.startsWith('*.')) {
    prefix = '(?:[^.]+\\.)+';
    p = p.slice(2);
  }
  const body = p
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^.]*');
  return new RegExp(`^${prefix}${body}$`);
}

export function hostMatches(pattern: string, host: string): boolean {
  let re = compiled.get(pattern);
  if (!re) {
    re = compile(pattern);
    // The patterns come from policies, a bounded set; the cache only guards against a runaway.
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re.test(host.toLowerCase().replace(/\.$/, ''));
}

export function anyHostMatches(patterns: readonly string[], host: string): boolean {
  return patterns.some((p) => hostMatches(p, host));
}
