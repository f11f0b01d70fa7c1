// Where a logged packet's line goes, as the reference's ovs_firewall_log sets it up: the file
// `[network_log] local_output_log_base` (reopened when logrotate moves it, as Python's
// WatchedFileHandler), else journald with use_journal, else syslog; formatted with the logging
// options' format and date format under the reference's logger name. The reference's logger also
// propagates to the agent's own log: so do these lines.
import { formatLine, type LineFormat } from '../../util/log-format.js';
import { FileSink, JournalSink, SyslogSink } from '../../util/log-sinks.js';
import { getLogger, type LogSink } from '../../util/log.js';
import type { NetworkLogSettings } from '../../agent/settings.js';

/** The reference's logger, whose name operators' parsers of these lines expect. */
export const PACKET_LOGGER = 'neutron.services.logapi.drivers.openvswitch.ovs_firewall_log';
const AGENT_LOG = getLogger('extensions.log');

export class LogLines {
  private readonly sink: LogSink;
  private readonly format: LineFormat;

  constructor(s: NetworkLogSettings) {
    this.format = { format: s.format, dateFormat: s.dateFormat, binary: 'neutron-openvswitch-agent' };
    if (s.localOutputLogBase) this.sink = new FileSink(s.localOutputLogBase);
    else if (s.useJournal) this.sink = new JournalSink(s.syslogFacility, 'neutron-openvswitch-agent');
    else this.sink = new SyslogSink(s.syslogFacility, 'neutron-openvswitch-agent');
  }

  get where(): string {
    return this.sink instanceof FileSink ? this.sink.path : this.sink instanceof JournalSink ? 'journald' : 'syslog';
  }

  info(message: string): void {
    this.write('INFO', message);
    AGENT_LOG.info(message);
  }

  warning(message: string): void {
    this.write('WARNING', message);
    AGENT_LOG.warning(message);
  }

  private write(level: 'INFO' | 'WARNING', message: string): void {
    this.sink.write(formatLine({ time: new Date(), level, name: PACKET_LOGGER, message }, this.format) + '\n', level);
  }

  close(): void {
    this.sink.close?.();
  }
}
