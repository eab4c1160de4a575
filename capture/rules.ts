// Transparent capture (as Istio's istio-iptables): the nat-table rules an init container installs in
// the pod's network namespace so that the pod's outbound TCP on the governed ports reaches the
// sidecar's transparent listener on loopback, whatever address the app dialled, except the
// sidecar's own connections (it runs as its own UID). Pure: text for iptables-restore and
// ip6tables-restore, applied by bin/capture-init.ts.
//
// The text is meant for `iptables-restore --noflush`: the rest of the nat table (a CNI's, another
// mesh's) is left alone, and declaring our chain (`:CHAPERONE_OUTPUT - [0:0]`) flushes only it, so a
// rerun of the init container (kubelet reruns init containers when it recreates the pod sandbox)
// replaces our rules instead of adding a second copy. The one rule outside our chain, OUTPUT's jump
// into it, survives --noflush: it is included only when `iptables -C` says it is absent.

import { PROXY_UID, TRANSPARENT_PORT } from '../api/pod-contract.js';
export interface CaptureSettings {
  /** Destination TCP ports whose outbound connections are captured (1 to 15: one multiport match). */
  ports: number[];
  /** The sidecar's transparent listener, on loopback (127.0.0.1 / ::1). */
  toPort: number;
  /** The sidecar's UID: its own (upstream) connections are never captured. Not 0. */
  proxyUid: number;
}

export const CAPTURE_CHAIN = 'CHAPERONE_OUTPUT';

/** The chain's rule-spec of OUTPUT's jump, as `iptables -t nat -C OUTPUT ...` takes it. */
export const CAPTURE_JUMP_SPEC: readonly string[] = ['-p', 'tcp', '-j', CAPTURE_CHAIN];

/**
 * The filter-table chain that refuses the pod's UDP to the governed ports: HTTP/3 (QUIC) runs over
 * UDP 443, which REDIRECT of TCP cannot capture. Refused at once, clients fall back to TCP, which is.
 */
export const UDP_CHAIN = 'CHAPERONE_UDP';
export const UDP_JUMP_SPEC: readonly string[] = ['-p', 'udp', '-j', UDP_CHAIN];

/** The most ports one `-m multiport --dports` match takes. */
export const MULTIPORT_MAX = 15;

/** The largest UID the kernel accepts ((uid_t)-1 means "no UID"). */
const MAX_UID = 2 ** 32 - 2;

export const LOOPBACK: Record<4 | 6, string> = { 4: '127.0.0.0/8', 6: '::1/128' };

/** Why settings are unusable; the message names the setting (the command maps them onto its flags). */
export class CaptureSettingsError extends Error {}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** Throws CaptureSettingsError unless the settings make rules that do what they say. */
export function validateCaptureSettings(settings: CaptureSettings): void {
  const { ports, toPort, proxyUid } = settings;
  if (ports.length === 0) throw new CaptureSettingsError('ports: at least one port is required');
  if (ports.length > MULTIPORT_MAX) {
    throw new CaptureSettingsError(`ports: ${ports.length} ports, at most ${MULTIPORT_MAX} (one iptables multiport match)`);
  }
  for (const p of ports) {
    if (!isPort(p)) throw new CaptureSettingsError(`ports: ${p} is not a port (1-65535)`);
  }
  const dup = ports.find((p, i) => ports.indexOf(p) !== i);
  if (dup !== undefined) throw new CaptureSettingsError(`ports: ${dup} is listed twice`);
  if (!isPort(toPort)) throw new CaptureSettingsError(`to-port: ${toPort} is not a port (1-65535)`);
  // The listener's own port captured would loop any connection to it made through a non-loopback
  // address back into itself.
  if (ports.includes(toPort)) throw new CaptureSettingsError(`to-port: ${toPort} is also a captured port`);
  if (!Number.isInteger(proxyUid) || proxyUid < 0 || proxyUid > MAX_UID) {
    throw new CaptureSettingsError(`proxy-uid: ${proxyUid} is not a UID (1-${MAX_UID})`);
  }
  // Exempting UID 0 would exempt every root process in the pod (and a root proxy defeats the point).
  if (proxyUid === 0) throw new CaptureSettingsError('proxy-uid: 0 (root) cannot be the proxy: the sidecar must run as its own non-root UID');
}

/** OUTPUT's jump into our chain, as a restore line. */
export function captureJumpRule(): string {
  return `-A OUTPUT ${CAPTURE_JUMP_SPEC.join(' ')}`;
}

export interface CaptureRulesOptions {
  /** Include OUTPUT's jump into our chain (default true). False when the jump is already there. */
  jump?: boolean;
  /** Include the filter table's OUTPUT jump into the UDP chain (default true). */
  udpJump?: boolean;
}

/** The filter table's OUTPUT jump into the UDP chain, as a restore line. */
export function udpJumpRule(): string {
  return `-A OUTPUT ${UDP_JUMP_SPEC.join(' ')}`;
}

/**
 * iptables-restore input for the nat table (family 4), or ip6tables-restore input (family 6): our
 * chain, declared (so flushed) and filled, plus OUTPUT's jump into it unless `jump: false`.
 * Throws CaptureSettingsError for unusable settings.
 */
export function captureRules(settings: CaptureSettings, family: 4 | 6, options: CaptureRulesOptions = {}): string {
  validateCaptureSettings(settings);
  const { ports, toPort, proxyUid } = settings;
  const c = CAPTURE_CHAIN;
  const lines = [
    `# Chaperone transparent capture, IPv${family}: for ${family === 4 ? 'iptables' : 'ip6tables'}-restore --noflush.`,
    '*nat',
    '# Declaring our chain creates it, or flushes it when it exists: a rerun replaces our rules.',
    `:${c} - [0:0]`,
  ];
  if (options.jump ?? true) {
    lines.push(
      "# Every locally generated TCP connection's first packet goes through our chain (nat sees only",
      '# first packets; the rest of a connection follows its translation).',
      captureJumpRule(),
    );
  }
  lines.push(
    "# The sidecar's own connections (to the real upstream) go where they were sent: capturing them",
    '# would loop them back into the sidecar.',
    `-A ${c} -m owner --uid-owner ${proxyUid} -j RETURN`,
    "# Traffic that stays in the pod (loopback, and the pod's own addresses, which route via lo):",
    '# containers talking to each other, and the app talking to the sidecar directly.',
    `-A ${c} -o lo -j RETURN`,
    '# Loopback destinations, whatever the route says: never an outbound call.',
    `-A ${c} -d ${LOOPBACK[family]} -j RETURN`,
    '# Everything else to a governed port goes to the transparent listener: REDIRECT from OUTPUT',
    `# rewrites the destination to ${family === 4 ? '127.0.0.1' : '[::1]'}:${toPort} (conntrack keeps the original one).`,
    `-A ${c} -p tcp -m multiport --dports ${ports.join(',')} -j REDIRECT --to-ports ${toPort}`,
    'COMMIT',
    '*filter',
    `# UDP to the governed ports (HTTP/3, QUIC) cannot be redirected: refused, so clients use TCP.`,
    `:${UDP_CHAIN} - [0:0]`,
  );
  if (options.udpJump ?? true) lines.push('# Every locally generated UDP packet goes through it.', udpJumpRule());
  lines.push(
    "# The sidecar's own packets and traffic that stays in the pod pass.",
    `-A ${UDP_CHAIN} -m owner --uid-owner ${proxyUid} -j RETURN`,
    '# Loopback (the pod itself) is never an outbound call.',
    `-A ${UDP_CHAIN} -o lo -j RETURN`,
    '# An ICMP port-unreachable answer at once: the client gives up on QUIC without waiting.',
    `-A ${UDP_CHAIN} -p udp -m multiport --dports ${ports.join(',')} -j REJECT`,
    'COMMIT',
  );
  return `${lines.join('\n')}\n`;
}

/** The number of rules (`-A` lines) in restore text. */
export function countRules(restoreText: string): number {
  return restoreText.split('\n').filter((l) => l.startsWith('-A ')).length;
}

/**
 * A port list as a pod or the webhook writes it ("80,443,8443"), validated for the default listener
 * port and proxy UID; undefined when it would not make valid rules.
 */
export function parseCapturePorts(text: string): number[] | undefined {
  const ports = text.split(',').map((p) => p.trim()).filter((p) => p !== '').map((p) => (/^\d{1,5}$/.test(p) ? Number(p) : NaN));
  try {
    validateCaptureSettings({ ports, toPort: TRANSPARENT_PORT, proxyUid: PROXY_UID });
    return ports;
  } catch {
    return undefined;
  }
}
