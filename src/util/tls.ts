// TLS client settings shared by the message bus and OVSDB connections: the certificate files read
// at every connection attempt (a CA file fixed by the operator is used on the next retry, no
// restart), and failures turned into one reason an operator can act on. Key material is only
// ever handed to node:tls; no message here quotes a file's content.
import { readFileSync } from 'node:fs';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';

/** One certificate or key file and the option that names it, e.g. `[ovs] ssl_ca_cert_file`. */
export interface TlsFile {
  readonly path: string;
  readonly option: string;
}

export interface TlsClientSettings {
  /** CA bundle the server's chain must lead to; undefined: the system's CAs. */
  readonly ca?: TlsFile;
  /** Client certificate and key, presented when the server asks for one. */
  readonly cert?: TlsFile;
  readonly key?: TlsFile;
  /** Check the server's name/IP against its certificate (the chain is always checked). */
  readonly verifyHostname: boolean;
  readonly minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2';
  readonly maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2';
}

/** A TLS connection could not be set up; `reason` is for operators (no secrets). */
export class TlsSetupError extends Error {
  override name = 'TlsSetupError';
}

function readTlsFile(f: TlsFile): Buffer {
  try {
    return readFileSync(f.path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new TlsSetupError(`cannot read ${f.option} ${f.path} (${code})`);
  }
}

/** node:tls options for connecting to `host`: files read now, chain always verified. */
export function tlsConnectionOptions(s: TlsClientSettings, host: string): ConnectionOptions {
  const o: ConnectionOptions = { rejectUnauthorized: true };
  if (s.ca) o.ca = readTlsFile(s.ca);
  if (s.cert) o.cert = readTlsFile(s.cert);
  if (s.key) o.key = readTlsFile(s.key);
  if (s.minVersion) o.minVersion = s.minVersion;
  if (s.maxVersion) o.maxVersion = s.maxVersion;
  // The reference (Python ssl via py-amqp, python-ovs) checks the chain but, unless told to, not the
  // name: so does this agent, or certificates that work with the reference would stop working.
  o.checkServerIdentity = s.verifyHostname
    ? (_name: string, cert: PeerCertificate) => checkServerIdentity(host, cert)
    : () => undefined;
  return o;
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED',
  'CERT_CHAIN_TOO_LONG', 'INVALID_CA',
]);

/**
 * Why a TLS connection failed, in an operator's words, with the option to look at. `err` is what
 * node:tls or the socket raised; errors that are not about TLS come back as their message.
 */
export function tlsFailureReason(err: unknown, s: TlsClientSettings): string {
  if (err instanceof TlsSetupError) return err.message;
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = typeof e?.code === 'string' ? e.code : '';
  const msg = err instanceof Error ? err.message : String(err);
  const caText = s.ca ? `${s.ca.option} ${s.ca.path}` : 'the system CA store';
  if (UNTRUSTED.has(code)) return `TLS: the server's certificate is not signed by a CA in ${caText} (${code})`;
  if (code === 'CERT_HAS_EXPIRED') return `TLS: the server's certificate has expired (${code})`;
  if (code === 'CERT_NOT_YET_VALID') return `TLS: the server's certificate is not valid yet (${code})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const m = err as { host?: string; cert?: { subjectaltname?: string; subject?: { CN?: string } } };
    const names = m.cert?.subjectaltname || (m.cert?.subject?.CN ? `CN=${m.cert.subject.CN}` : 'no name');
    return `TLS: the server's certificate does not name ${m.host ?? 'this host'} (it names ${names}; ${code})`;
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return `TLS: the server did not answer with TLS (a plaintext port?) (${code})`;
  }
  if (code.startsWith('ERR_SSL_SSLV3_ALERT_') || code.startsWith('ERR_SSL_TLSV1_ALERT_') || code.startsWith('ERR_SSL_TLSV13_ALERT_')) {
    const alert = code.replace(/^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/, '').toLowerCase().replace(/_/g, ' ');
    const certText = s.cert ? `${s.cert.option} ${s.cert.path}` : 'no client certificate configured';
    return `TLS: the server refused the handshake (alert: ${alert}; client certificate: ${certText})`;
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_OSSL_')) return `TLS: ${msg} (${code})`;
  if (code === 'ECONNRESET' || /socket disconnected before secure TLS connection/i.test(msg)) {
    return `TLS: the server closed the connection during the handshake (${code || msg})`;
  }
  return msg;
}

let ipServernameWarningMuted = false;

/**
 * amqplib sets the broker's host as the TLS server name even when it is an IP address, and node
 * then prints a DEP0123 deprecation warning on stderr once. The warning is about that library's
 * call, not about anything an operator configured: drop it, and pass every other warning on.
 */
export function muteIpServernameWarning(): void {
  if (ipServernameWarningMuted) return;
  ipServernameWarningMuted = true;
  const original = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  const filtered = (...args: unknown[]): void => {
    const opts = args[1];
    const code = typeof opts === 'object' && opts !== null ? (opts as { code?: unknown }).code : args[2];
    if (code === 'DEP0123') return;
    original(...args);
  };
  process.emitWarning = filtered as typeof process.emitWarning;
}
