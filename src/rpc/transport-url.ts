// oslo.messaging transport_url parsing (pure):
//   rabbit://user:pass@host1:5672,user2:pass2@host2:5673/vhost?opt=val
// Each host may carry its own credentials; a host without them inherits none (oslo then uses
// guest/guest through kombu). The path is the virtual host, percent-decoded; "/" or empty is
// the default vhost "/".

export interface TransportHost {
  hostname: string;
  port: number;
  username: string | null;
  password: string | null;
}

export interface TransportUrl {
  /** Driver scheme, e.g. `rabbit` (a `+` suffix like `rabbit+ssl`? not used by neutron). */
  transport: string;
  hosts: TransportHost[];
  virtualHost: string;
  query: Record<string, string>;
}

export const DEFAULT_AMQP_PORT = 5672;

function decode(s: string, what: string, url: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new Error(`transport_url ${maskTransportUrl(url)}: invalid percent-encoding in ${what}`);
  }
}

export function parseTransportUrl(url: string): TransportUrl {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/.exec(url.trim());
  if (!m) throw new Error(`transport_url ${maskTransportUrl(url)}: not of the form driver://[user:pass@]host[:port][,...]/[vhost]`);
  const [, transport, netloc = '', path, queryText] = m;
  const hosts: TransportHost[] = [];
  for (const part of netloc.split(',')) {
    if (part === '') continue;
    const at = part.lastIndexOf('@');
    let username: string | null = null;
    let password: string | null = null;
    let hostPort = part;
    if (at >= 0) {
      const cred = part.slice(0, at);
      hostPort = part.slice(at + 1);
      const colon = cred.indexOf(':');
      username = decode(colon >= 0 ? cred.slice(0, colon) : cred, 'user name', url);
      password = colon >= 0 ? decode(cred.slice(colon + 1), 'password', url) : null;
    }
    let hostname: string;
    let portText: string | undefined;
    const v6 = /^\[([^\]]+)\](?::(\d*))?$/.exec(hostPort);
    if (v6) {
      hostname = v6[1]!;
      portText = v6[2];
    } else {
      const colon = hostPort.lastIndexOf(':');
      hostname = colon >= 0 ? hostPort.slice(0, colon) : hostPort;
      portText = colon >= 0 ? hostPort.slice(colon + 1) : undefined;
    }
    if (hostname === '') throw new Error(`transport_url ${maskTransportUrl(url)}: empty host name in "${maskTransportUrl(part)}"`);
    let port = DEFAULT_AMQP_PORT;
    if (portText !== undefined && portText !== '') {
      port = Number(portText);
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new Error(`transport_url ${maskTransportUrl(url)}: invalid port "${portText}" for host ${hostname}`);
      }
    }
    hosts.push({ hostname: decode(hostname, 'host name', url), port, username, password });
  }
  if (hosts.length === 0) throw new Error(`transport_url ${maskTransportUrl(url)}: no host`);
  const rawVhost = path ? path.slice(1) : '';
  const virtualHost = rawVhost === '' ? '/' : decode(rawVhost, 'virtual host', url);
  const query: Record<string, string> = {};
  if (queryText && queryText.length > 1) {
    for (const kv of queryText.slice(1).split('&')) {
      if (kv === '') continue;
      const eq = kv.indexOf('=');
      const k = decode(eq >= 0 ? kv.slice(0, eq) : kv, 'query', url);
      query[k] = decode(eq >= 0 ? kv.slice(eq + 1) : '', 'query', url);
    }
  }
  return { transport: transport!, hosts, virtualHost, query };
}

/** The URL with every password replaced by `****`, for logs. */
export function maskTransportUrl(url: string): string {
  // user:password@ → user:****@ in every comma-separated host entry
  return url.replace(/([/,][^/,:@]*):([^@/]*)@/g, '$1:****@');
}

/** `amqp://user:****@host:port/vhost` of one host, for logs (password never printed). */
export function describeHost(host: TransportHost, virtualHost: string): string {
  const cred = host.username !== null ? `${encodeURIComponent(host.username)}:****@` : '';
  const h = host.hostname.includes(':') ? `[${host.hostname}]` : host.hostname;
  return `amqp://${cred}${h}:${host.port}/${encodeURIComponent(virtualHost)}`;
}
