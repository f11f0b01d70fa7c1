// The TLS settings of the two connections the agent opens, from the reference's options:
// the message bus from [oslo_messaging_rabbit] ssl* (transport_url query applied), OVSDB from
// [ovs] ssl_*_file when ovsdb_connection is ssl:.
import { createHash, getFips, setFips } from 'node:crypto';
import type { TlsClientSettings } from '../util/tls.js';
import { sslVersionRange, type RabbitOptions } from './messaging.js';

const RABBIT = '[oslo_messaging_rabbit]';

/** undefined when `ssl` is off: plaintext AMQP, as configured. */
export function amqpTlsSettings(o: RabbitOptions): TlsClientSettings | undefined {
  if (!o.ssl) return undefined;
  const cert = o.ssl_cert_file ? { path: o.ssl_cert_file, option: `${RABBIT} ssl_cert_file` } : undefined;
  // As py-amqp: a key file is used only with a certificate, and without one the key is looked for
  // in the certificate file.
  const key = cert ? (o.ssl_key_file ? { path: o.ssl_key_file, option: `${RABBIT} ssl_key_file` } : cert) : undefined;
  return {
    ...(o.ssl_ca_file ? { ca: { path: o.ssl_ca_file, option: `${RABBIT} ssl_ca_file` } } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    // oslo.messaging checks the broker's name only with a CA file and ssl_enforce_hostname_verification.
    verifyHostname: o.ssl_ca_file !== '' && o.ssl_enforce_hostname_verification,
    ...(sslVersionRange(o.ssl_version) ?? {}),
  };
}

/**
 * `[oslo_messaging_rabbit] ssl_enforce_fips_mode`: switch OpenSSL to FIPS mode, or explain why it
 * cannot be. OpenSSL 3 accepts the switch even without a FIPS provider and then refuses every
 * algorithm, so a digest is computed to prove the mode usable (and the switch undone if not).
 */
export function enforceFipsMode(): void {
  const advice = `install and configure OpenSSL's FIPS provider, or set '${RABBIT} ssl_enforce_fips_mode' to False`;
  try {
    setFips(true);
  } catch (e) {
    throw new Error(`OpenSSL FIPS mode cannot be enabled (${e instanceof Error ? e.message : String(e)}): ${advice}`);
  }
  try {
    createHash('sha256').update('fips').digest();
  } catch (e) {
    setFips(false);
    throw new Error(`OpenSSL FIPS mode is not usable here, no FIPS provider answers (${e instanceof Error ? e.message : String(e)}): ${advice}`);
  }
  if (getFips() !== 1) throw new Error(`OpenSSL FIPS mode could not be enabled: ${advice}`);
}

export interface OvsSslOptions {
  readonly ovsdb_connection: string;
  readonly ssl_key_file: string | null;
  readonly ssl_cert_file: string | null;
  readonly ssl_ca_cert_file: string | null;
}

/** undefined unless ovsdb_connection is ssl: (the loader has checked that the three files are set). */
export function ovsdbTlsSettings(ovs: OvsSslOptions): TlsClientSettings | undefined {
  if (!ovs.ovsdb_connection.trim().startsWith('ssl:')) return undefined;
  const file = (path: string | null, option: string) => ({ path: path ?? '', option: `[ovs] ${option}` });
  return {
    ca: file(ovs.ssl_ca_cert_file, 'ssl_ca_cert_file'),
    cert: file(ovs.ssl_cert_file, 'ssl_cert_file'),
    key: file(ovs.ssl_key_file, 'ssl_key_file'),
    // Open vSwitch's SSL streams check the peer's chain against the CA, never its name.
    verifyHostname: false,
  };
}
