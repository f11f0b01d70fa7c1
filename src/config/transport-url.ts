// oslo.messaging transport URLs:
//   driver://[user:pass@]host:port[,[userN:passN@]hostN:portN]/virtual_host?query
// Parsing follows TransportURL.parse (urllib.parse.urlparse + per-host split) and
// the rabbit driver's effective defaults: an empty user/password/host/port becomes
// guest/guest/localhost/5672 (kombu fills falsy fields), an empty virtual host is '/'.

import { redactTransportUrl } from '../util/redact.js';

export { redactTransportUrl };

export interface TransportHost {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
}

export interface TransportUrl {
  /** Scheme, lower-cased ('rabbit'). */
  readonly transport: string;
  readonly hosts: readonly TransportHost[];
  readonly virtualHost: string;
  /** Query parameters; a repeated key has its values joined with ','. */
  readonly query: Readonly<Record<string, string>>;
}

export class InvalidTransportUrl extends Error {
  override readonly name = 'InvalidTransportUrl';
  constructor(readonly url: string, readonly reason: string) {
    super(`Invalid transport URL ${redactTransportUrl(url)}: ${reason}`);
  }
}

const DEFAULT_USER = 'guest';
const DEFAULT_PASSWORD = 'guest';
const DEFAULT_HOST = 'localhost';
const DEFAULT_PORT = 5672;

interface SplitUrl { scheme: string; netloc: string; path: string; query: string }

// urllib.parse.urlsplit, reduced to what transport URLs use.
function splitUrl(url: string): SplitUrl {
  let rest = url;
  let scheme = '';
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(rest);
  if (m) {
    scheme = m[1]!.toLowerCase();
    rest = rest.slice(m[0].length);
  }
  let netloc = '';
  if (rest.startsWith('//')) {
    rest = rest.slice(2);
    const end = rest.search(/[/?#]/);
    netloc = end < 0 ? rest : rest.slice(0, end);
    rest = end < 0 ? '' : rest.slice(end);
    if ((netloc.includes('[') && !netloc.includes(']')) || (netloc.includes(']') && !netloc.includes('['))) {
      throw new InvalidTransportUrl(url, 'Invalid IPv6 URL');
    }
  }
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? '' : rest.slice(q + 1);
  return { scheme, netloc, path, query };
}

function unquote(s: string, plusIsSpace = false): string {
  const t = plusIsSpace ? s.replace(/\+/g, ' ') : s;
  // Like Python's unquote: valid %XX runs are decoded as UTF-8, invalid bytes become U+FFFD.
  return t.replace(/(%[0-9A-Fa-f]{2})+/g, (run) =>
    Buffer.from(run.slice(1).split('%').map((h) => parseInt(h, 16))).toString('utf8'));
}

// urllib.parse.parse_qs with its defaults: '&' separated, blank values dropped.
function parseQuery(q: string): Record<string, string> {
  const acc = new Map<string, string[]>();
  for (const field of q.split('&')) {
    if (!field) continue;
    const eq = field.indexOf('=');
    if (eq < 0) continue;
    const value = field.slice(eq + 1);
    if (value === '') continue;
    const key = unquote(field.slice(0, eq), true);
    const list = acc.get(key) ?? [];
    list.push(unquote(value, true));
    acc.set(key, list);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of acc) out[k] = v.join(',');
  return out;
}

export function parseTransportUrl(url: string): TransportUrl {
  const parts = splitUrl(url);
  if (!parts.scheme) throw new InvalidTransportUrl(url, 'No scheme specified');

  const hosts: TransportHost[] = [];
  for (const entry of parts.netloc.split(',')) {
    if (!entry) continue;
    let hostname = entry;
    let username: string | null = null;
    let password: string | null = null;
    let portText: string | null = null;
    const at = entry.lastIndexOf('@');
    if (at >= 0) {
      let user = entry.slice(0, at);
      hostname = entry.slice(at + 1);
      const colon = user.indexOf(':');
      if (colon >= 0) {
        password = unquote(user.slice(colon + 1));
        user = user.slice(0, colon);
      }
      username = unquote(user);
    }
    if (hostname.startsWith('[')) {
      const end = hostname.indexOf(']');
      if (end < 0) throw new InvalidTransportUrl(url, 'Invalid IPv6 URL');
      const after = hostname.slice(end);
      portText = after.includes(':') ? after.slice(after.indexOf(':') + 1) : null;
      hostname = hostname.slice(1, end);
    } else if (hostname.includes(':')) {
      const colon = hostname.indexOf(':');
      portText = hostname.slice(colon + 1);
      hostname = hostname.slice(0, colon);
    }
    let port = DEFAULT_PORT;
    if (portText !== null && portText !== '') {
      if (!/^\s*[+-]?\d+\s*$/.test(portText)) throw new InvalidTransportUrl(url, `invalid port '${portText}'`);
      port = Number(portText.trim());
      if (port < 0 || port > 65535) throw new InvalidTransportUrl(url, `port ${port} out of range 0-65535`);
      if (port === 0) port = DEFAULT_PORT; // falsy → default, as the driver does
    }
    hosts.push({
      host: hostname || DEFAULT_HOST,
      port,
      username: username || DEFAULT_USER,
      password: password || DEFAULT_PASSWORD,
    });
  }
  if (hosts.length === 0) {
    hosts.push({ host: DEFAULT_HOST, port: DEFAULT_PORT, username: DEFAULT_USER, password: DEFAULT_PASSWORD });
  }
  const vhost = parts.path.startsWith('/') ? unquote(parts.path.slice(1)) : '';
  return { transport: parts.scheme, hosts, virtualHost: vhost || '/', query: parseQuery(parts.query) };
}
