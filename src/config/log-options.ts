// oslo.log options the agent accepts in a file but does not implement: where a value would change
// what the reference does, the agent stops at start-up naming the option, instead of running as if
// it were not set.
import type { IniDocument } from './ini.js';

/** One option that cannot be used as set, and why. */
export interface LogOptionProblem {
  option: 'rate_limit_burst' | 'publish_errors';
  value: string;
  reason: string;
}

/**
 * `[oslo_messaging_notifications] driver` (a MultiStrOpt: every line of every file counts, in order)
 * with its deprecated `[DEFAULT] notification_driver`.
 */
export function notificationDrivers(docs: readonly IniDocument[]): string[] {
  return docs.flatMap((doc) => doc.assignments
    .filter((a) => (a.group === 'oslo_messaging_notifications' && a.key === 'driver') || (a.group === 'DEFAULT' && a.key === 'notification_driver'))
    .map((a) => a.value.trim()));
}

/** Drivers that keep a notification to themselves: the error goes nowhere outside the process. */
const SILENT_DRIVERS = new Set(['', 'noop', 'test']);

export function logOptionProblems(o: { rateLimitBurst: number; rateLimitInterval: number; publishErrors: boolean; notificationDrivers: readonly string[] }): LogOptionProblem[] {
  const problems: LogOptionProblem[] = [];
  // oslo.log installs its rate-limit filter only when both are at least 1.
  if (o.rateLimitBurst >= 1 && o.rateLimitInterval >= 1) {
    problems.push({
      option: 'rate_limit_burst', value: String(o.rateLimitBurst),
      reason: `with rate_limit_interval = ${o.rateLimitInterval}: log rate limiting is not implemented by this agent, and the reference does not start with it either `
        + '(oslo.log reads an option rate_limit_except that it never registered: NoSuchOptError); set rate_limit_burst or rate_limit_interval to 0',
    });
  }
  // oslo.messaging's error handler stays quiet when the log driver is among the drivers (it would
  // log its own notification again); noop and test publish nothing outside the process.
  const publishing = o.notificationDrivers.filter((d) => !SILENT_DRIVERS.has(d));
  if (o.publishErrors && !o.notificationDrivers.includes('log') && publishing.length > 0) {
    problems.push({
      option: 'publish_errors', value: 'True',
      reason: `with [oslo_messaging_notifications] driver = ${publishing.join(', ')}: publishing ERROR log lines as error_notification notifications is not implemented by this agent; `
        + 'set publish_errors = False (with no notification driver, or noop or log among them, the reference publishes nothing either)',
    });
  }
  return problems;
}
