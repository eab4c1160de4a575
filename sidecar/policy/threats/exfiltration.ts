// Exfiltration: data leaving through a tool's arguments. An agent steered by a prompt injection sends
// what it can read somewhere it can write: credentials in a message, a file base64-encoded into an
// email, a query string or a host name.
//
//   secrets       the DLP detectors (../dlp/, called as functions): private keys, AWS keys, OpenAI,
//                 Anthropic and GitHub tokens (low); JWTs and other vendors' keys with a fixed shape,
//                 Slack, Stripe, Google, npm, GitLab, Hugging Face, SendGrid... (medium); generic
//                 high-entropy tokens (high). Credentials are meant to reach tools through the tool's
//                 own configuration, not through what a model writes.
//   encoded       base64 or hex that decodes to text holding one of those secrets, credentials
//                 (`PASSWORD=...`, `postgres://user:pass@host`), account-file lines or personal
//                 data (DLP's cards, SSNs, IBANs, emails) (medium): encoding it is the tell
//   blobs         a long run of base64 (>= 1024 characters at medium, 8192 at low, 256 at high; at
//                 most 512 in a URL) or hex (>= 512 at medium, 4096 at low, 160 at high): an encoded
//                 file on its way out. Public key
//                 material (ssh-rsa ..., a PEM certificate) never counts; below high, neither do
//                 images and PDFs (their magic bytes say so: what image and document tools take)
//   host names    data encoded in DNS labels (`<hex>.<hex>.attacker.example`): a label of 32 or
//                 more hex or base32-like characters, or two of 24 or more (medium)
//
// What is scanned is the leaf as sent (secrets are case-sensitive), percent-decoded.
import type { DlpSpec } from '../../../api/index.js';
import { decodeBase64Text } from '../dlp/base64.js';
import { compileDlp, type DlpScanner } from '../dlp/index.js';
import { pattern, SignalSet } from './signals.js';
import { embeddedUrls } from './ssrf.js';
import { entropy, percentDecode } from './text.js';
import type { Detect, Level, LeafView } from './types.js';

// ------------------------------------------------------------------------------------------ secrets

/** DLP's secret detectors per level (sensitivity high adds its generic tokens and base64 decoding). */
const DLP_SPECS: readonly DlpSpec[] = [
  { detectors: ['private_key', 'aws_access_key', 'api_key'], sensitivity: 'medium' },
  { detectors: ['private_key', 'aws_access_key', 'api_key', 'jwt'], sensitivity: 'medium' },
  { detectors: ['private_key', 'aws_access_key', 'api_key', 'jwt'], sensitivity: 'high' },
];
const scanners = (): DlpScanner[] => DLP_SPECS.map((s) => compileDlp(s));

const SECRET_WORDS: Readonly<Record<string, string>> = {
  private_key: 'a private key',
  aws_access_key: 'an AWS access key',
  api_key: 'an API key',
  jwt: 'a JSON Web Token',
};

/** Keys of other vendors, by their fixed shape (case-sensitive: read on the text as sent). */
const VENDOR_KEYS = new SignalSet([
  { level: 1, detail: 'a Slack token', pattern: String.raw`\bxox[abposr]-[0-9A-Za-z-]{10,}` },
  { level: 1, detail: 'a Stripe secret key', pattern: String.raw`\b(?:sk|rk)_live_[0-9A-Za-z]{20,}` },
  { level: 1, detail: 'a Google API key', pattern: String.raw`\bAIza[0-9A-Za-z_-]{35}` },
  { level: 1, detail: 'an npm token', pattern: String.raw`\bnpm_[A-Za-z0-9]{36}` },
  { level: 1, detail: 'a GitLab token', pattern: String.raw`\bglpat-[A-Za-z0-9_-]{20}` },
  { level: 1, detail: 'a Hugging Face token', pattern: String.raw`\bhf_[A-Za-z0-9]{34}` },
  { level: 1, detail: 'a SendGrid key', pattern: String.raw`\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}` },
  { level: 1, detail: 'a DigitalOcean token', pattern: String.raw`\bdo[por]_v1_[0-9a-f]{64}` },
  { level: 1, detail: 'a Shopify token', pattern: String.raw`\bshp(?:at|ss|ca|pa)_[0-9a-fA-F]{32}` },
  { level: 1, detail: 'a PyPI token', pattern: String.raw`\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}` },
  { level: 1, detail: 'an Azure storage key', pattern: String.raw`AccountKey=[A-Za-z0-9+/=]{60,}` },
  { level: 1, detail: 'a Databricks token', pattern: String.raw`\bdapi[0-9a-f]{32}\b` },
]);

function secretIn(text: string, level: Level, dlp: DlpScanner[]): string | undefined {
  const found = dlp[level]!.scan(text)[0];
  if (found) return SECRET_WORDS[found.detector] ?? 'a secret';
  return VENDOR_KEYS.first(text, level);
}

// ------------------------------------------------------------------------------------------- runs

/** Per code unit: 1 for base64 (and base64url) characters, 2 for hex digits (both for most). */
const CLASS = new Uint8Array(65536);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  CLASS[c] = (/[A-Za-z0-9+/_-]/.test(ch) ? 1 : 0) | (/[0-9a-fA-F]/.test(ch) ? 2 : 0);
}
const BASE64 = 1;
const HEX = 2;

interface Run {
  start: number;
  end: number;
  /** Characters of the run, line breaks not counted. */
  length: number;
}

/**
 * Runs of characters of a class, a line break allowed inside when the line before it is at least
 * WRAP long (`base64` wraps at 76, PEM at 64, `xxd -p` at 60).
 */
function runs(s: string, cls: number, min: number): Run[] {
  const WRAP = 56;
  const out: Run[] = [];
  let i = 0;
  const n = s.length;
  const inClass = (c: number): boolean => (CLASS[c]! & cls) !== 0;
  while (i < n) {
    if ((CLASS[s.charCodeAt(i)]! & cls) === 0) {
      i++;
      continue;
    }
    const start = i;
    let length = 0;
    let line = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if ((CLASS[c]! & cls) !== 0) {
        length++;
        line++;
        i++;
      } else if ((c === 10 || c === 13) && line >= WRAP) {
        let j = i + 1;
        if (c === 13 && s.charCodeAt(j) === 10) j++;
        if (j < n && inClass(s.charCodeAt(j))) {
          i = j;
          line = 0;
        } else break;
      } else if (c === 61 /* = */) {
        // base64 padding ends a run
        while (i < n && s.charCodeAt(i) === 61) i++;
        break;
      } else break;
    }
    if (length >= min) out.push({ start, end: i, length });
  }
  return out;
}

/** Does a base64 run look like encoded data rather than a long identifier or a path? */
function looksEncoded(s: string, r: Run): boolean {
  let upper = 0;
  let lower = 0;
  let digit = 0;
  const end = Math.min(r.end, r.start + 4096);
  for (let i = r.start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) upper++;
    else if (c >= 97 && c <= 122) lower++;
    else if (c >= 48 && c <= 57) digit++;
  }
  return upper > 0 && lower > 0 && digit > 0 && entropy(s, r.start, end) >= 4.5;
}

/** Public key material just before the run: ssh-rsa ..., a PEM certificate or public key. */
function publicKeyMaterial(s: string, r: Run): boolean {
  const before = s.slice(Math.max(0, r.start - 40), r.start);
  if (/(?:ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-nistp\d+|sk-ssh-ed25519@openssh\.com)\s+$/.test(before)) return true;
  const pem = s.lastIndexOf('-----BEGIN ', r.start);
  if (pem < 0 || r.start - pem > 200) return false;
  const header = s.slice(pem, Math.min(r.start, pem + 80));
  return /-----BEGIN (?:CERTIFICATE|PUBLIC KEY|RSA PUBLIC KEY|PGP PUBLIC KEY BLOCK|X509 CRL|CERTIFICATE REQUEST)-----/.test(header);
}

const MAGIC: ReadonlyArray<{ bytes: number[]; at?: number }> = [
  { bytes: [0x89, 0x50, 0x4e, 0x47] }, // PNG
  { bytes: [0xff, 0xd8, 0xff] }, // JPEG
  { bytes: [0x47, 0x49, 0x46, 0x38] }, // GIF
  { bytes: [0x57, 0x45, 0x42, 0x50], at: 8 }, // WebP (RIFF....WEBP)
  { bytes: [0x25, 0x50, 0x44, 0x46] }, // %PDF
  { bytes: [0x66, 0x74, 0x79, 0x70], at: 4 }, // MP4/HEIC (....ftyp)
  { bytes: [0x00, 0x00, 0x01, 0x00] }, // ICO
];

/** Is the run an image or a PDF (its first bytes)? */
function media(s: string, r: Run): boolean {
  let head: Buffer;
  try {
    head = Buffer.from(s.slice(r.start, r.start + 24).replace(/[\r\n]/g, ''), 'base64');
  } catch {
    return false;
  }
  return MAGIC.some((m) => m.bytes.every((b, k) => head[(m.at ?? 0) + k] === b));
}

const BASE64_MIN: readonly number[] = [8192, 1024, 256];
const HEX_MIN: readonly number[] = [4096, 512, 160];
/** At most this many encoded tokens, and characters of them, are decoded per leaf (encodedSensitive). */
const MAX_DECODED = 32;
const MAX_DECODED_CHARS = 128 * 1024;

/** The runs of a leaf, found once and read by blobIn and encodedSensitive. */
interface Runs {
  /** Base64 runs of 24 characters or more. */
  b64: Run[];
  /** Hex runs of 32 digits or more. */
  hex: Run[];
}

function blobIn(s: string, level: Level, inUrl: boolean, { b64, hex }: Runs): string | undefined {
  const b64Min = inUrl ? Math.min(BASE64_MIN[level]!, 512) : BASE64_MIN[level]!;
  for (const r of hex) if (r.length >= HEX_MIN[level]!) return `a hex blob of ${Math.floor(r.length / 2)} bytes`;
  for (const r of b64) {
    if (r.length < b64Min) continue;
    if (!looksEncoded(s, r) || publicKeyMaterial(s, r)) continue;
    if (level < 2 && media(s, r)) continue;
    return `a base64 blob of ${Math.floor((r.length * 3) / 4)} bytes`;
  }
  return undefined;
}

/** Credentials in text: `PASSWORD=...`, `"api_key": "..."`, `postgres://user:pass@host`. */
const CREDENTIALS = pattern(String.raw`(?i)\b[a-z0-9_.-]*(?:password|passwd|pwd|secret|token|api_?key|access_?key|private_?key|credentials?|database_url|db_url|dsn|connection_?string)[a-z0-9_.-]*['"]?\s*[=:]\s*['"]?[^\s'"]{6,}|\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@`);
/** Lines of an account database (/etc/passwd, /etc/shadow). */
const ACCOUNTS = pattern(String.raw`(?m)^[a-z_][a-z0-9_.-]*:[^:\n]*:\d+:\d*:`);
/** Personal data, as DLP finds it at medium (cards, SSNs, IBANs, email addresses). */
const PII: DlpSpec = { detectors: ['credit_card', 'ssn', 'iban', 'email'], sensitivity: 'medium' };

/** What sensitive thing a decoded text holds, if any (secrets from `level`; the rest from medium). */
function sensitiveContent(decoded: string, level: Level, dlp: DlpScanner[]): string | undefined {
  const secret = secretIn(decoded, level, dlp);
  if (secret) return secret;
  if (level < 1) return undefined;
  if (CREDENTIALS.test(decoded)) return 'credentials';
  if (ACCOUNTS.test(decoded)) return 'an account file (/etc/passwd lines)';
  const pii = compileDlp(PII).scan(decoded)[0];
  if (pii) return `personal data (${pii.detector})`;
  return undefined;
}

/** Hex of mostly printable text, decoded (the first 64 K digits), else undefined. */
function decodeHexText(s: string, r: Run): string | undefined {
  const digits = s.slice(r.start, Math.min(r.end, r.start + 65536)).replace(/[\r\n]/g, '');
  const bytes = Buffer.from(digits.length % 2 ? digits.slice(0, -1) : digits, 'hex');
  let printable = 0;
  for (const b of bytes) if ((b >= 32 && b < 127) || b === 9 || b === 10 || b === 13) printable++;
  return bytes.length >= 12 && printable >= bytes.length * 0.9 ? bytes.toString('latin1') : undefined;
}

/**
 * Encoded text that holds something sensitive: base64 (24+ characters) or hex (32+ digits) that
 * decodes to text with a secret, credentials, account lines or personal data. Encoding what is
 * sent is itself the tell: plain credentials in a config file an agent writes are its job.
 */
function encodedSensitive(s: string, level: Level, dlp: DlpScanner[], { b64, hex }: Runs): string | undefined {
  let n = 0;
  let chars = 0;
  for (const r of b64) {
    if (++n > MAX_DECODED || (chars += r.end - r.start) > MAX_DECODED_CHARS) break;
    // A wrapped run is decoded without its line breaks.
    const joined = r.length === r.end - r.start ? undefined : s.slice(r.start, Math.min(r.end, r.start + 80_000)).replace(/[\r\n]/g, '');
    const decoded = joined === undefined ? decodeBase64Text(s, r.start, r.end) : decodeBase64Text(joined, 0, joined.length);
    if (decoded === undefined) continue;
    const what = sensitiveContent(decoded, level, dlp);
    if (what) return `${what}, base64-encoded`;
  }
  for (const r of hex) {
    if (++n > MAX_DECODED || (chars += r.end - r.start) > MAX_DECODED_CHARS) break;
    const decoded = decodeHexText(s, r);
    if (decoded === undefined) continue;
    const what = sensitiveContent(decoded, level, dlp);
    if (what) return `${what}, hex-encoded`;
  }
  return undefined;
}

// ----------------------------------------------------------------------------------- DNS labels

/** Labels of a host name that carry data: long runs of hex or base32-like characters. */
function dnsPayload(host: string): boolean {
  const labels = host.split('.');
  let long = 0;
  for (const l of labels) {
    if (l.length < 24 || !/^[a-z0-9]+$/.test(l)) continue;
    if (!/[0-9]/.test(l) || !/[a-z]/.test(l)) continue;
    if (l.length >= 32) return true;
    long++;
  }
  return long >= 2;
}

/** The host names in a leaf: itself (host fields), the hosts of URLs in it. */
function hostNames(leaf: LeafView): string[] {
  const out: string[] = [];
  const t = leaf.text.trim();
  if (leaf.roles.has('host')) out.push(t.replace(/:\d+$/, ''));
  let n = 0;
  for (const url of embeddedUrls(t)) {
    if (++n > 16) break;
    const authority = url.slice(url.indexOf('://') + 3);
    const end = authority.search(/[/?#]/);
    const hostPort = (end < 0 ? authority : authority.slice(0, end)).replace(/^.*@/, '');
    out.push(hostPort.replace(/:\d*$/, ''));
  }
  return out;
}

// ------------------------------------------------------------------------------------------ detect

export const detectExfiltration: Detect = (leaf: LeafView, { level }) => {
  const dlp = scanners();
  const sent = percentDecode(leaf.raw);
  // Read with its name (`aws_secret_access_key: ...`): some secrets are only known by the name before them.
  const named = leaf.key !== '' && sent.length < 4096 ? `${leaf.key}: ${sent}` : sent;
  const secret = secretIn(named, level, dlp);
  if (secret) return `${secret} sent to a tool`;
  const found: Runs = { b64: runs(sent, BASE64, 24), hex: runs(sent, HEX, 32) };
  if (level >= 1) {
    const encoded = encodedSensitive(sent, level, dlp, found);
    if (encoded) return `${encoded} sent to a tool`;
  }
  // A URL to fetch carries no files; a data: URI is one (its images are let through by their magic bytes).
  const blob = blobIn(sent, level, leaf.roles.has('url') && !leaf.text.startsWith('data:'), found);
  if (blob) return `${blob} sent to a tool`;
  if (level >= 1 && hostNames(leaf).some(dnsPayload)) return 'data encoded in a host name (DNS exfiltration)';
  return undefined;
};
