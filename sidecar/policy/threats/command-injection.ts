// OS command injection: commands that open a way in or out of the machine, and values that smuggle
// a command into a command line a tool builds.
//
// A command for a shell tool (role shell: `command`, `cmd`, `script` of a shell-like tool) is read
// for what the command does, not for its shape: pipes, `&&`, redirections and `$(...)` are how
// developers use shells (`git status && git log -1`, `grep -r TODO src | wc -l`). What fires:
//   low     reverse shells (`bash -i >& /dev/tcp/...`, `nc -e /bin/sh`, a named pipe into nc, socat
//           exec, a script wiring a socket to a shell), encoded PowerShell (`-enc`), decoded base64
//           piped into a shell, a fork bomb
//   medium  download-and-execute (`curl ... | sh`, `wget -O- | bash`, `bash <(curl ...)`, a download
//           made executable and run, PowerShell download cradles, certutil/bitsadmin); reads of
//           sensitive files (/etc/shadow, /etc/passwd, SSH keys, cloud credentials, the
//           service-account token: path-traversal.ts's list) by any command but those that only look
//           at a file's name (ls, chmod, ssh-keygen...); the environment or command output sent over
//           the network; setuid bits, capabilities, authorized_keys, cron jobs, writes to /etc, new
//           users; `rm -rf /` and kin, disk wipes; firewalls, audit tools, history and logs turned off
//   high    any output piped into a shell; the `.env` and /etc reads the high list adds
//
// A value that a tool pastes into a command line (role value: `host`, `branch`, `filename`...) is
// read as an injection: the same signals, plus a command chained after a metacharacter (`; id`,
// `| whoami`, `&& cat /etc/passwd`, `$(curl ...)`, `` `id` ``, a newline), with the usual
// obfuscations undone first (`${IFS}`, `w$@hoami`, `c'a't`), brace expansion (`{cat,/etc/passwd}`),
// wildcard paths (`/???/??t`) and options where a value was expected (`--upload-pack=...`,
// `-oProxyCommand=...`). A chained word must look like a command with arguments (a flag, a path, a
// number, a host): "Tom & Jerry", "R&D; Q3 plan" and "cats | dogs" do not fire.
//
// In a document only reverse shells count (download-and-execute at high): READMEs say
// `curl -fsSL https://get.docker.com | sh`.
import { normalisePath, sensitiveFile } from './path-traversal.js';
import { SignalSet, type Signal } from './signals.js';
import type { Detect, Level, LeafView } from './types.js';

const SH = String.raw`(?:/usr)?(?:/bin/)?(?:ba|z|da|k|fi)?sh`;

const REVERSE: Signal[] = [
  { level: 0, detail: 'a reverse shell (/dev/tcp)', pattern: String.raw`/dev/(?:tcp|udp)/[^\s/]+/\d+` },
  { level: 0, detail: 'a reverse shell (nc -e)', pattern: String.raw`\b(?:nc|ncat|netcat)(?:\.\w+)?\b[^\n;|&]*\s-[a-z]*[ec]\s+['"]?(?:${SH}\b|cmd(?:\.exe)?\b|powershell|python|perl)` },
  { level: 0, detail: 'a reverse shell (a named pipe into nc)', pattern: String.raw`\b(?:mkfifo|mknod)\b[^\n]*\b(?:nc|ncat|netcat|telnet|openssl|socat)\b` },
  { level: 0, detail: 'a reverse shell (socat exec)', pattern: String.raw`\bsocat\b[^\n]*\b(?:exec|system):` },
  { level: 0, detail: 'an interactive shell wired to a socket', pattern: String.raw`\b(?:ba|z|da|k)?sh\s+-i\s*(?:[<>]&|\d?>&|2>&1\s*\|)` },
  { level: 0, detail: 'a reverse shell (a script wiring a socket to a shell)', pattern: String.raw`(?:socket\.socket\s*\(|\bsocket\s*\(\s*s\s*,|tcpsocket\.(?:open|new)|\bfsockopen\s*\(|\bsocket\.tcp\s*\(|net\.sockets\.tcpclient|/inet/tcp/)[\s\S]{0,600}(?:/bin/(?:ba)?sh|\bsh\s+-i|subprocess|pty\.spawn|\bexec\b|\biex\b|dup2|getline|os\.system)` },
  { level: 0, detail: 'a reverse shell (telnet into a shell)', pattern: String.raw`\btelnet\b[^\n]*\|\s*${SH}\b` },
  { level: 0, detail: 'a remote X terminal (xterm -display)', pattern: String.raw`\bxterm\s+-display\s` },
];

const DOWNLOAD: Signal[] = [
  { level: 1, detail: 'a download piped to a shell (curl | sh)', pattern: String.raw`\b(?:curl|wget|fetch|iwr|irm|invoke-webrequest|invoke-restmethod|lwp-download|aria2c)\b[^\n;&]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?${SH}\b` },
  { level: 1, detail: 'a download piped to an interpreter', pattern: String.raw`\b(?:curl|wget|iwr|irm|invoke-webrequest|invoke-restmethod)\b[^\n;&]*\|\s*(?:sudo\s+)?(?:python[23]?|perl|ruby|node|php|iex|invoke-expression)\b` },
  { level: 1, detail: 'a download run by a shell (bash <(curl ...), sh -c "$(curl ...)")', pattern: String.raw`<\(\s*(?:curl|wget)\b|\b(?:sh|bash|zsh|eval|source)\s+(?:-c\s+)?["']?\$\(\s*(?:curl|wget)\b` },
  { level: 1, detail: 'a download made executable and run', pattern: String.raw`\b(?:curl|wget)\b[^\n]*(?:;|&&|\|\|)\s*(?:sudo\s+)?chmod\s+(?:-\S+\s+)*(?:[ugoa]*\+[rw]*x|[0-7]{3,4})\b[^\n]*(?:;|&&|\|\||&)\s*(?:sudo\s+)?(?:\./|/tmp/|/dev/shm/|/var/tmp/|~/|\$home/)` },
  { level: 1, detail: 'a download run by a shell or an interpreter', pattern: String.raw`\b(?:curl|wget)\b[^\n]*(?:;|&&|\|\|)\s*(?:sudo\s+)?(?:${SH}|python[23]?|perl|ruby|node|php)\s+(?:-\S+\s+)*(?:/tmp/|/dev/shm/|/var/tmp/|\./|~/|\$home/)` },
  { level: 1, detail: 'a PowerShell download cradle', pattern: String.raw`\b(?:iex|invoke-expression)\b[^\n]*(?:downloadstring|downloadfile|net\.webclient|\biwr\b|invoke-webrequest|\birm\b|invoke-restmethod)|(?:downloadstring|downloadfile)\s*\([^\n]*\|\s*iex|net\.webclient\)?\.download(?:string|file)` },
  { level: 1, detail: 'a Windows download-and-run tool (certutil, bitsadmin, mshta, regsvr32)', pattern: String.raw`\bcertutil(?:\.exe)?\b[^\n]*-urlcache|\bbitsadmin(?:\.exe)?\b[^\n]*/transfer|\bmshta(?:\.exe)?\s+https?:|\bregsvr32\b[^\n]*/i:https?:|\brundll32\b[^\n]*javascript:` },
  { level: 1, detail: 'a script that runs code it downloads', pattern: String.raw`\b(?:exec|eval)\s*\([^\n]{0,200}(?:urlopen|requests\.get|urllib\.request)` },
];

const ENCODED: Signal[] = [
  { level: 0, detail: 'decoded base64 piped into a shell', pattern: String.raw`\bbase64\s+(?:-\w+\s+)*(?:-d|--decode|-di)\b[^\n;&]*\|\s*(?:sudo\s+)?${SH}\b|\b(?:eval|sh|bash|zsh)\s+(?:-c\s+)?["']?\$\(\s*(?:echo|printf)\b[^)]*\|\s*base64\s+-{1,2}d` },
  { level: 0, detail: 'decoded bytes piped into a shell (xxd, printf, openssl)', pattern: String.raw`\bxxd\s+-r\s+-p\b[^\n;&]*\|\s*${SH}\b|\bprintf\s+['"]?(?:\\x[0-9a-f]{2}){4,}[^\n;&]*\|\s*${SH}\b|\bopenssl\s+(?:enc\s+)?-?(?:base64|d)\b[^\n;&]*\|\s*${SH}\b` },
  { level: 0, detail: 'an encoded PowerShell command (-enc)', pattern: String.raw`\b(?:powershell|pwsh)(?:\.exe)?\b[^\n]*\s[-/]e(?:c|n|nc|nco|ncod|ncode|ncoded|ncodedcommand)?\s+[a-z0-9+/=]{16,}|frombase64string[^\n]*(?:\biex\b|invoke-expression)` },
  { level: 0, detail: 'a script running base64-decoded code', pattern: String.raw`\b(?:exec|eval)\s*\(\s*(?:__import__\s*\(\s*['"]base64['"]\s*\)|base64)\.b64decode` },
  { level: 0, detail: 'a fork bomb', pattern: String.raw`:\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:` },
  { level: 2, detail: 'output piped into a shell', pattern: String.raw`\|\s*(?:sudo\s+)?${SH}\s*(?:-s\b|-\s|$|;|&)` },
];

const HARM: Signal[] = [
  { level: 1, detail: 'the environment sent over the network', pattern: String.raw`\b(?:env|printenv|set|export\s+-p)\s*\|\s*(?:curl|wget|nc|ncat|netcat|telnet|openssl\s+s_client)\b` },
  { level: 1, detail: 'output piped to a raw network connection (| nc host port)', pattern: String.raw`\|\s*(?:nc|ncat|netcat|telnet)\s+(?:-\S+\s+)*[a-z0-9.:-]+\s+\d+` },
  { level: 1, detail: 'command output sent out in a DNS or HTTP request', pattern: String.raw`\b(?:nslookup|dig|host|ping|curl|wget)\b[^\n]*(?:\$\(|\x60)\s*(?:whoami|id|hostname|uname|cat|env|printenv|pwd)\b` },
  { level: 1, detail: 'sets the setuid or setgid bit (chmod +s)', pattern: String.raw`\bchmod\s+(?:-\S+\s+)*(?:[ugoa]*[+=][rwxt]*s[rwxt]*|[0-7]?[2467][0-7]{3})\b` },
  { level: 1, detail: 'grants a capability (setcap)', pattern: String.raw`\bsetcap\s+[^\n]*cap_(?:setuid|setgid|sys_admin|dac_override|dac_read_search|sys_ptrace)` },
  { level: 1, detail: 'adds an SSH key (authorized_keys)', pattern: String.raw`>>?\s*['"]?(?:~|\$home|/root|/home/[^/\s]+)?/\.ssh/authorized_keys` },
  { level: 1, detail: 'installs a cron job', pattern: String.raw`\bcrontab\s+(?:-\S+\s+)*-\s*(?:$|[;&|)])|\|\s*crontab\b|>>?\s*['"]?/(?:etc/cron|var/spool/cron)` },
  { level: 1, detail: 'writes to system configuration (/etc)', pattern: String.raw`>>?\s*['"]?/etc/(?:passwd|shadow|sudoers|hosts|crontab|profile|bash\.bashrc|environment|ld\.so\.preload|rc\.local|resolv\.conf|systemd/|cron\.d/|init\.d/|sudoers\.d/)|\btee\s+(?:-a\s+)?['"]?/etc/` },
  { level: 1, detail: 'creates a user or grants admin rights', pattern: String.raw`nopasswd|\buseradd\b|\badduser\b|\busermod\s+(?:-\S+\s+)*-a?g\s+(?:sudo|wheel|root|admin|docker)\b|\bnet\s+user\s+\S+\s+\S+\s+/add|\bnet\s+localgroup\s+administrators` },
  { level: 1, detail: 'deletes the system, a home directory or a database (rm -rf /)', pattern: String.raw`\brm\s+(?:-\S+\s+)*-[a-z]*r[a-z]*\s+(?:-\S+\s+)*['"]?(?:/|/\*|~/?\*?|\$home/?\*?|\$\{home\}/?\*?|/(?:etc|usr|bin|sbin|boot|var|lib|lib64|home|root|opt|srv|sys|proc|dev)/?\*?|/var/lib/(?:postgresql|mysql|docker|etcd|kubelet|redis|mongodb)\S*)['"]?(?:\s|$|;|&|\|)|--no-preserve-root` },
  { level: 1, detail: 'overwrites a disk (mkfs, dd)', pattern: String.raw`\bmkfs(?:\.\w+)?\s+/dev/|\bdd\s+[^\n]*\bof=/dev/(?:sd|nvme|hd|xvd|vd|disk|mmcblk)|>\s*/dev/(?:sd|nvme|hd|xvd|vd)[a-z]` },
  { level: 1, detail: 'kills every process (kill -9 -1)', pattern: String.raw`\bkill\s+-(?:9|kill|s\s+kill)\s+-1\b|\bkillall5\b` },
  { level: 1, detail: 'opens the whole file system (chmod -R 777 /)', pattern: String.raw`\bchmod\s+(?:-\S+\s+)*-r\S*\s+(?:-\S+\s+)*0?777\s+/(?:\s|$|\*)` },
  { level: 1, detail: 'disables a firewall or a security tool', pattern: String.raw`\biptables\s+(?:-\S+\s+)*-f\b|\biptables\s+-p\s+input\s+accept|\bufw\s+disable|\bsetenforce\s+0|\bsystemctl\s+(?:disable|stop|mask)\s+(?:--now\s+)?(?:auditd|falco|apparmor|ufw|firewalld|osqueryd|wazuh)` },
  { level: 1, detail: 'erases shell history or logs', pattern: String.raw`\bhistory\s+-c\b|\bunset\s+histfile\b|histfile=/dev/null|\bshred\b[^\n]*(?:history|/var/log)|>\s*/var/log/|\bwevtutil\s+cl\b` },
];

/** A metacharacter that starts another command, and what may follow it before the command. */
const CHAIN = String.raw`(?:;|&&|\|\||\||&|\n|\r|\$\(|\x60)\s*(?:sudo\s+)?`;
/** Commands that mean something bare (`; id`), and their flags. */
const BARE = String.raw`(?:whoami|uname|ifconfig|ipconfig|hostname|id|pwd|netstat|systeminfo|tasklist|getuid)`;
/** Commands that need arguments to read as commands rather than words (`; sleep 10` but not "; sleep well"). */
const WITH_ARGS = String.raw`(?:wget|curl|nc|ncat|netcat|bash|sh|zsh|python[23]?|perl|ruby|php|powershell|pwsh|cmd(?:\.exe)?|nslookup|dig|telnet|certutil|bitsadmin|wmic|chmod|chown|base64|xxd|socat|cat|type|ls|dir|ping|sleep|echo|rm|touch|cp|mv|kill|find|awk|sed|tar|env|printenv|reg|sc|nohup|eval|exec|ssh|scp|ftp|tftp|timeout|uname|head|tail|more|less|whoami)`;
/** What arguments look like: a flag, a path, a variable, a number, a dotted host, a URL, a drive. */
const ARGS = String.raw`\s+(?:-{1,2}[a-z]|/|~|\$|\\\\|\.{1,2}/|\d|[a-z0-9-]+\.[a-z]{2,}|https?:|[a-z]:\\|%|['"][/~$-])`;

const CHAINED: Signal[] = [
  { level: 0, detail: 'a command chained after a metacharacter (; | & $( ` newline)', pattern: String.raw`${CHAIN}${BARE}\s*(?:$|[;&|)\x60'"]|\s+-)|${CHAIN}${WITH_ARGS}${ARGS}|${CHAIN}net\s+(?:user|localgroup|use|view|share)\b` },
  { level: 0, detail: 'a command in brace expansion ({cat,/etc/passwd})', pattern: String.raw`(?:^|[;&|\n\x60]|\$\()\s*\{\s*(?:cat|ls|id|wget|curl|nc|bash|sh|python\w*|perl|echo|rm|ping)\s*,` },
  { level: 0, detail: 'a command path spelled with wildcards (/???/??t)', pattern: String.raw`(?:^|[;&|\n\x60\s]|\$\()\s*/[a-z?*\[\]]{1,8}/[a-z?*\[\]]*[?*][a-z?*\[\]]*` },
  { level: 1, detail: 'an option injected where a value was expected (--upload-pack, -oProxyCommand, -exec)', pattern: String.raw`^\s*-{1,2}(?:upload-pack|receive-pack|exec|config|output|checkpoint-action|to-command|use-compress-program|unzip-command|post-file|proxy-command)\b|(?:^|\s)-o\s*proxycommand|--checkpoint-action=exec|\s-exec\s+\S*(?:sh|bash|python|perl)\b|(?:^|\s)-tt\s` },
];

const SHELL = new SignalSet([...REVERSE, ...ENCODED, ...DOWNLOAD, ...HARM]);
const VALUE = new SignalSet([...REVERSE, ...ENCODED, ...CHAINED, ...DOWNLOAD, ...HARM]);
const DOCUMENT = new SignalSet([...REVERSE.map((s) => ({ ...s, level: 1 as Level })), ...DOWNLOAD.map((s) => ({ ...s, level: 2 as Level }))]);

/**
 * The usual ways to hide a command word from a filter, undone: `${IFS}` for spaces, empty expansions
 * (`w$@hoami`), quotes and backslashes inside a word (`c'a't`, `c\at`). Single passes, no nested repetition.
 */
export function deobfuscate(t: string): string {
  return t
    .replace(/\$\{ifs\}|\$ifs(?:\$\d)?/g, ' ')
    .replace(/\$[@*]|\$\{\d\}/g, '')
    .replace(/([a-z0-9])['"\\]+(?=[a-z0-9/])/g, '$1');
}

// ------------------------------------------------------------------------------ sensitive files

/** Commands that look at a file's name or its mode, not its content. */
const NAME_ONLY = new Set(['ls', 'll', 'stat', 'file', 'test', '[', 'chmod', 'chown', 'chgrp', 'mkdir', 'rmdir', 'touch', 'ssh-keygen', 'ssh-add', 'cd', 'which', 'du', 'df', 'realpath', 'readlink', 'dirname', 'basename', 'echo', 'printf', 'find', 'locate', 'rm', 'mv']);
/** Words before the command itself. */
const PREFIXES = new Set(['sudo', 'doas', 'env', 'nohup', 'time', 'nice', 'command', 'exec', 'xargs', 'builtin']);
/** Options whose value is a key or a config the command uses, not one it reads out. */
const USES = new Set(['-i', '--identity-file', '--kubeconfig', '--key', '--cert', '--cacert', '--private-key', '--ssh-key']);
/** Directories whose whole content is credentials (archiving or copying them exfiltrates them). */
const SECRET_DIRS = new Set(['/.ssh', '/.aws', '/.kube', '/.gnupg', '/root/.ssh', '/.docker', '/.config/gcloud']);

/** Which sensitive file a command line reads (cat, cp, curl -d @..., a < redirection...), if any. */
export function sensitiveRead(text: string, level: Level): string | undefined {
  // Simple commands: what lies between ; && || | & newlines, $( ) and backticks.
  for (const command of text.split(/[;\n|&`(){}]+|\$\(/)) {
    const words = command.trim().split(/\s+/).filter(Boolean);
    let k = 0;
    while (k < words.length && (PREFIXES.has(words[k]!) || /^[a-z_][a-z0-9_]*=/.test(words[k]!) || (k > 0 && words[k - 1] === 'sudo' && words[k]!.startsWith('-')))) k++;
    const verb = (words[k] ?? '').replace(/^.*\//, '');
    if (verb === '' || NAME_ONLY.has(verb)) continue;
    for (let j = k + 1; j < words.length; j++) {
      if (USES.has(words[j - 1]!)) continue;
      for (const candidate of candidates(words[j]!)) {
        const { path } = normalisePath(candidate);
        if (!(path.startsWith('/') || candidate.startsWith('.'))) continue;
        const why = sensitiveFile(path, level);
        if (why) return `reads ${why}`;
        if (level >= 1 && SECRET_DIRS.has(path.replace(/\/$/, ''))) return 'reads a credentials directory (.ssh, .aws, .kube...)';
      }
    }
  }
  return undefined;
}

/** The paths one word may name: itself, after `=`, `@` or `<` (`--post-file=/etc/passwd`, `f=@~/.ssh/id_rsa`, `<~/.netrc`). */
function candidates(word: string): string[] {
  let a = 0;
  let b = word.length;
  while (a < b && (word[a] === "'" || word[a] === '"' || word[a] === '<')) a++;
  while (b > a && (word[b - 1] === "'" || word[b - 1] === '"')) b--;
  const w = word.slice(a, b);
  const out = [w];
  const at = w.lastIndexOf('@');
  if (at >= 0) out.push(w.slice(at + 1));
  const eq = w.lastIndexOf('=');
  if (eq >= 0) out.push(w.slice(eq + 1).replace(/^@/, ''));
  return out.filter((c) => c.length > 1 && c.length < 4096);
}

// ------------------------------------------------------------------------------------------ detect

export const detectCommandInjection: Detect = (leaf: LeafView, { level }) => {
  const { roles, text } = leaf;
  const clean = deobfuscate(text);
  const both = (set: SignalSet): string | undefined => set.first(text, level) ?? (clean !== text ? set.first(clean, level) : undefined);
  if (roles.has('shell')) return both(SHELL) ?? (level >= 1 ? sensitiveRead(clean, level) : undefined);
  // A SQL statement: what a command would do there (COPY ... PROGRAM, xp_cmdshell) without the chaining of values.
  if (roles.has('sql')) return both(SHELL);
  if (roles.has('document')) return both(DOCUMENT);
  return both(VALUE);
};
