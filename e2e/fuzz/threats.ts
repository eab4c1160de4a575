// The forbidden things every hostile case hides: the tool the policy forbids, and the planted
// sensitive numbers DLP must stop, with the spellings the sidecar claims to see through
// (sidecar/policy/dlp/normalize.ts: NFKC, invisibles removed, dashes unified). Shared by the
// corpus (which plants them) and the oracle (which looks for them in whatever got through).

/** The tool every agent is forbidden to call. */
export const FORBIDDEN_TOOL = 'delete_database';

/** A tool every agent may use: the benign twin of the forbidden one. */
export const ALLOWED_TOOL = 'web_search';

/** Planted secrets as bare digits, each with the grouping a person writes it in. */
export const SECRETS: ReadonlyArray<{ kind: 'ssn' | 'card'; digits: string; groups: readonly number[] }> = [
  { kind: 'ssn', digits: '123456789', groups: [3, 2, 4] },
  { kind: 'ssn', digits: '219099999', groups: [3, 2, 4] },
  { kind: 'card', digits: '4111111111111111', groups: [4, 4, 4, 4] },
  { kind: 'card', digits: '5555555555554444', groups: [4, 4, 4, 4] },
  { kind: 'card', digits: '378282246310005', groups: [4, 6, 5] },
  { kind: 'card', digits: '6011111111111117', groups: [4, 4, 4, 4] },
];

/**
 * Ways to write a secret that DLP (sensitivity high, detectors ssn and credit_card) must still
 * find: one separator used throughout, possibly a look-alike of a dash or a space, digits possibly
 * full-width, invisibles anywhere between the digits.
 */
export const SECRET_STYLES = [
  'dashed',
  'spaced',
  'bare',
  'unicode-dash',
  'nb-space',
  'zero-width',
  'full-width',
  'full-width-dash',
  'mixed',
] as const;
export type SecretStyle = (typeof SECRET_STYLES)[number];

const UNICODE_DASHES = ['\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', '\ufe63', '\uff0d'];
const NB_SPACES = ['\u00a0', '\u2007', '\u202f', '\u3000', '\u2002'];
const INVISIBLES = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u180e'];

const fullWidth = (s: string): string => s.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)));

/** The digits cut into the secret's groups. */
function grouped(digits: string, groups: readonly number[]): string[] {
  const out: string[] = [];
  let at = 0;
  for (const g of groups) {
    out.push(digits.slice(at, at + g));
    at += g;
  }
  return out;
}

/** Sprinkles invisible characters between digits (pick chooses which, and where). */
function sprinkle(s: string, pick: (n: number) => number): string {
  let out = '';
  for (const ch of s) {
    out += ch;
    if (pick(3) === 0) out += INVISIBLES[pick(INVISIBLES.length)]!;
  }
  return out;
}

/** One spelling of a planted secret; `pick(n)` is the corpus's random choice in [0, n). */
export function spellSecret(secret: (typeof SECRETS)[number], style: SecretStyle, pick: (n: number) => number): string {
  const parts = grouped(secret.digits, secret.groups);
  switch (style) {
    case 'dashed':
      return parts.join('-');
    case 'spaced':
      return parts.join(' ');
    case 'bare':
      return secret.digits;
    case 'unicode-dash':
      return parts.join(UNICODE_DASHES[pick(UNICODE_DASHES.length)]!);
    case 'nb-space':
      return parts.join(NB_SPACES[pick(NB_SPACES.length)]!);
    case 'zero-width':
      return sprinkle(parts.join('-'), pick);
    case 'full-width':
      return fullWidth(parts.join(' '));
    case 'full-width-dash':
      return fullWidth(parts.join('\uff0d'));
    case 'mixed':
      return sprinkle(fullWidth(parts.join(UNICODE_DASHES[pick(UNICODE_DASHES.length)]!)), pick);
  }
}

/** Spellings of the forbidden tool's name that name the same tool to the policy (matched case-insensitively). */
export const NAME_VARIANTS = [FORBIDDEN_TOOL, 'DELETE_DATABASE', 'Delete_Database', 'delete_Database'] as const;
