// Host globs: the one dialect for every host pattern, whether it says which hosts the sidecar
// intercepts (the providers, spec.intercept.hosts, the intercept-hosts annotation), which an egress
// or passThrough rule fits, or which names are the cluster's (spec.threats.clusterDomains):
//
//   *                       every host
//   *.example.com           every name under example.com, at any depth (a.example.com,
//                           a.b.example.com), not example.com itself
//   bedrock-runtime.*.amazonaws.com, *-aiplatform.googleapis.com
//                           any other `*` is part of one label: it never crosses a dot
//
// Case is ignored, and so is a trailing dot on either side (DNS names are case-insensitive).
// An IPv4 address is no name: its dots are not labels, so there a `*` is any run of characters and
// `10.*` or `169.254.*` fit every address they begin (a tunnel judged by its destination address,
// --opaque-traffic egress, meets deny rules written that way).
//
// Why these: a leading `*.` owns a whole domain, as DNS delegates it. Everything below example.com
// is example.com's to name, so a deny rule or an intercept list cannot be slipped past by one more
// label (`a.b.internal.example.com` is still under `*.internal.example.com`), and an allow rule opens
// nothing example.com does not control. A `*` anywhere else stays inside its label, so no pattern
// can reach into a domain its author did not write: `api.*.com` fits `api.example.com`, never
// `api.example.com.evil.net`.
import { globMatch } from './glob.js';
import { boundedMemo } from '../lib/bounded-memo.js';

/** A glob split into its labels; `anySubdomain` for a leading `*.`; undefined labels for `*` alone. */
interface CompiledHostGlob {
  /** The whole glob, normalised: what an IPv4 address is matched against. */
  text: string;
  anySubdomain: boolean;
  labels?: string[];
}

const normalized = (name: string): string => name.toLowerCase().replace(/\.$/, '');
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function compile(glob: string): CompiledHostGlob {
  const g = normalized(glob);
  if (g === '*') return { text: g, anySubdomain: false };
  const anySubdomain = g.startsWith('*.');
  return { text: g, anySubdomain, labels: (anySubdomain ? g.slice(2) : g).split('.') };
}

/** Globs are compiled once (lib/bounded-memo.ts). */
const compiled = boundedMemo(compile);

/** A host as the globs read it: normalised once, split into labels unless it is an address. */
interface HostName {
  name: string;
  labels?: string[];
}

function hostName(host: string): HostName {
  const name = normalized(host);
  return IPV4.test(name) ? { name } : { name, labels: name.split('.') };
}

function fits({ text, anySubdomain, labels }: CompiledHostGlob, host: HostName): boolean {
  if (!labels) return true;
  if (!host.labels) return globMatch(text, host.name);
  const hostLabels = host.labels;
  if (anySubdomain ? hostLabels.length <= labels.length : hostLabels.length !== labels.length) return false;
  // The glob's labels against the host's last ones; a leading `*.` has taken the rest.
  const offset = hostLabels.length - labels.length;
  return labels.every((label, i) => globMatch(label, hostLabels[offset + i]!));
}

/** Does the host fit the host glob? */
export function hostGlob(glob: string, host: string): boolean {
  return fits(compiled(glob), hostName(host));
}

/** Does any of the host globs fit the host? (The host is read once for all of them.) */
export function anyHostGlob(globs: readonly string[], host: string): boolean {
  const name = hostName(host);
  return globs.some((g) => fits(compiled(g), name));
}
