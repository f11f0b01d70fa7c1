// [oslo_messaging_rabbit] as the rabbit driver sees it: oslo.messaging lets the transport URL's
// query override any option of that group (`rabbit://u:p@h:5671/?ssl=1&ssl_ca_file=/etc/ca.pem`),
// converted with the option's own type; a query key that is not an option of the group is an
// error (ConfigOptsProxy in oslo_messaging/_drivers/common.py). Only current names count there,
// not deprecated ones.
import { SCHEMA, ValueProblem, type GroupValues, type OptionDef, type Schema } from './options.js';
import type { TransportUrl } from './transport-url.js';

export type RabbitOptions = GroupValues<Schema['oslo_messaging_rabbit']>;

export interface MessagingProblem {
  /** The option the problem is reported against ('transport_url' for a bad query key). */
  readonly group: 'DEFAULT' | 'oslo_messaging_rabbit';
  readonly option: string;
  readonly reason: string;
  readonly value?: string;
}

/**
 * ssl_version values the reference accepts on Python 3.11 (case-insensitive) and the TLS
 * protocol range each pins. SSLv2/SSLv3 are absent from that Python's ssl module, so the
 * reference refuses them ("Invalid SSL version"), as we do. 'SSLv23' negotiates the best.
 */
type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2';
const SSL_VERSIONS: Readonly<Record<string, { minVersion?: TlsVersion; maxVersion?: TlsVersion }>> = {
  tlsv1: { minVersion: 'TLSv1', maxVersion: 'TLSv1' },
  tlsv1_1: { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' },
  tlsv1_2: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' },
  sslv23: {},
};

export type TlsProtocolRange = (typeof SSL_VERSIONS)[string];

/** The protocol range for `[oslo_messaging_rabbit] ssl_version`; undefined when invalid. '' → negotiate. */
export function sslVersionRange(version: string): TlsProtocolRange | undefined {
  if (version === '') return {};
  return SSL_VERSIONS[version.toLowerCase()];
}

/** The group's values with the transport URL's query applied, and what is wrong with them. */
export function effectiveRabbitOptions(group: RabbitOptions, transport: TransportUrl):
  { options: RabbitOptions; problems: MessagingProblem[] } {
  const defs = SCHEMA.oslo_messaging_rabbit as Record<string, OptionDef<unknown>>;
  const out: Record<string, unknown> = { ...group };
  const problems: MessagingProblem[] = [];
  for (const [key, raw] of Object.entries(transport.query)) {
    const def = Object.prototype.hasOwnProperty.call(defs, key) ? defs[key] : undefined;
    if (!def) {
      problems.push({ group: 'DEFAULT', option: 'transport_url', reason: `query option '${key}' is not an [oslo_messaging_rabbit] option` });
      continue;
    }
    try {
      out[key] = def.convert(raw);
    } catch (e) {
      if (!(e instanceof ValueProblem)) throw e;
      problems.push({ group: 'DEFAULT', option: 'transport_url', reason: `query option ${key}=${raw}: ${e.message}` });
    }
  }
  const options = out as RabbitOptions;
  if (options.ssl && sslVersionRange(options.ssl_version) === undefined) {
    problems.push({
      group: 'oslo_messaging_rabbit', option: 'ssl_version', value: options.ssl_version,
      reason: 'Invalid SSL version: expected one of TLSv1, TLSv1_1, TLSv1_2, SSLv23 (or empty)',
    });
  }
  if (options.rabbit_quorum_queue && options.rabbit_ha_queues) {
    // oslo.messaging raises at its first consumer ("Configuration Error: rabbit_quorum_queue and rabbit_ha_queues both enabled").
    problems.push({
      group: 'oslo_messaging_rabbit', option: 'rabbit_quorum_queue', value: 'True',
      reason: 'rabbit_quorum_queue and rabbit_ha_queues are both enabled: a queue is a quorum queue or an HA (mirrored) one, not both',
    });
  }
  return { options, problems };
}
