// The TLS settings of the two connections the agent opens, from the reference's options:
// the message bus from [oslo_messaging_rabbit] ssl* (transport_url query applied), OVSDB from
// [ovs] ssl_*_file when ovsdb_connection is ssl:.
import { getFips, setFips } from 'node:crypto';
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

/** `[oslo_messaging_rabbit] ssl_enforce_fips_mode`: switch OpenSSL to FIPS mode or explain why it cannot be. */
export function enforceFipsMode(): void {
  try {
    setFips(true);
  } catch (e) {
    throw new Error(`OpenSSL FIPS mode is not supported by this Node.js/OpenSSL (${e instanceof Error ? e.message : String(e)}): ` +
      `use an OpenSSL with the FIPS provider or set '${RABBIT} ssl_enforce_fips_mode' to False`);
  }
  if (getFips() !== 1) {
    throw new Error(`OpenSSL FIPS mode could not be enabled: set '${RABBIT} ssl_enforce_fips_mode' to False or install the FIPS provider`);
  }
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
