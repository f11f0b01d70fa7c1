// `host:port` of a server the agent listens on (`[agent] metrics_bind`): an IPv4 address, an IPv6
// address in brackets, or a host name, and a TCP port. Pure, so the option converter and the
// operator CLI read it the same way.
import { isIP } from 'node:net';
import { validHostname } from './ip.js';

export interface ListenAddress {
  /** Address without brackets, as node's listen() and connect() take it. */
  host: string;
  port: number;
}

/** Parses `HOST:PORT` / `[IPV6]:PORT`; throws an Error saying what was expected. */
export function parseListenAddress(raw: string): ListenAddress {
  const s = raw.trim();
  const expected = 'expected HOST:PORT (an IPv6 address in brackets, e.g. [::1]:9792)';
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') throw new Error(expected);
    host = s.slice(1, close);
    portText = s.slice(close + 2);
    if (isIP(host) !== 6) throw new Error(`${expected}: '${host}' is not an IPv6 address`);
  } else {
    const colon = s.lastIndexOf(':');
    if (colon <= 0) throw new Error(expected);
    host = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (host.includes(':')) throw new Error(`${expected}: an IPv6 address needs brackets`);
    if (isIP(host) !== 4 && validHostname(host) === null) throw new Error(`${expected}: '${host}' is not an address or host name`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw new Error(`${expected}: port '${portText}' is not between 1 and 65535`);
  }
  return { host, port: Number(portText) };
}

/** `host:port`, the IPv6 host in brackets: what an operator would type, and a URL's authority. */
export function formatListenAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
