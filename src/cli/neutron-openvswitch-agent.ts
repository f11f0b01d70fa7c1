// The drop-in daemon: same command line and options as neutron-openvswitch-agent.
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, HelpRequested, VersionRequested, loadConfig, reloadMutable, validateLocalIpOnHost, type AgentConfig } from '../config/index.js';
import { OvsAgent, StartupError } from '../agent/agent.js';
import { settingsFromConfig } from '../agent/settings.js';
import { configureLogging, getLogger } from '../util/log.js';
import { redactSecrets, registerSecret } from '../util/redact.js';
import { configDumpLines } from '../config/dump.js';

const PROG = 'neutron-openvswitch-agent';
const LOG = getLogger('cli');

function fail(msg: string): never {
  process.stderr.write(`${PROG}: ${redactSecrets(msg)}\n`);
  process.exit(1);
}

function setupLogging(cfg: AgentConfig): void {
  const d = cfg.DEFAULT;
  const file = d.log_file ? (d.log_dir ? join(d.log_dir, d.log_file) : d.log_file) : undefined;
  if (file) {
    const stream = createWriteStream(file, { flags: 'a' });
    configureLogging({ debug: d.debug, sink: { write: (l) => stream.write(l) } });
  } else {
    configureLogging({ debug: d.debug });
  }
}

/**
 * SIGHUP, as oslo's mutate_config_files: the same command line and files are read again and only
 * the mutable options (debug, log_config_append) take effect; the bridges and flows are untouched.
 * A file that became invalid is reported and the running configuration kept.
 */
function reloadOnSighup(current: AgentConfig, argv: readonly string[]): AgentConfig {
  let next: { config: AgentConfig; changed: string[] };
  try {
    next = reloadMutable(current, argv, { prog: PROG });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    LOG.error(`SIGHUP: configuration not reloaded, keeping the running one: ${e.message}`);
    return current;
  }
  if (next.changed.length === 0) {
    LOG.info('SIGHUP: configuration files re-read; no mutable option changed');
    return current;
  }
  LOG.info(`SIGHUP: configuration files re-read; changed: ${next.changed.join(', ')}`);
  if (next.config.DEFAULT.debug !== current.DEFAULT.debug) {
    configureLogging({ debug: next.config.DEFAULT.debug });
    LOG.debug('logging at DEBUG level');
  }
  return next.config;
}

export async function main(argv: string[]): Promise<void> {
  let cfg: AgentConfig;
  try {
    cfg = loadConfig(argv, { prog: PROG });
    validateLocalIpOnHost(cfg);
  } catch (e) {
    if (e instanceof HelpRequested || e instanceof VersionRequested) {
      const text = e instanceof HelpRequested ? e.usage : e.version;
      process.stdout.write(text.endsWith('\n') ? text : text + '\n');
      process.exit(0);
    }
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
  // Before the first log line: whatever prints a broker password by mistake prints '****'.
  for (const h of cfg.transport.hosts) registerSecret(h.password);
  setupLogging(cfg);
  for (const w of cfg.warnings) LOG.warning(w);
  LOG.info(`starting with ${cfg.configFiles.join(', ') || 'no config file'}`);
  if (cfg.DEFAULT.debug) for (const line of configDumpLines(cfg, argv)) LOG.debug(line);
  const settings = settingsFromConfig(cfg);
  const agent = new OvsAgent(settings);
  // Before the agent starts, so its first steps are counted; prom-client loads only when asked for.
  let endpoint: { close(): Promise<void> } | undefined;
  if (settings.metricsBind) {
    const { MetricsEndpoint } = await import('../metrics/server.js');
    try {
      endpoint = await MetricsEndpoint.start({
        bind: settings.metricsBind,
        bridges: {
          integration: settings.integrationBridge,
          tunnel: settings.tunnelTypes.length ? settings.tunnelBridge : undefined,
          physical: [...settings.bridgeMappings.values()],
        },
        snapshot: () => agent.snapshot(),
      });
    } catch (e) {
      LOG.critical(`${e instanceof Error ? e.message : String(e)} Agent terminated!`);
      fail(e instanceof Error ? e.message : String(e));
    }
  }
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    LOG.info(`${sig} received: stopping; flows stay in place`);
    agent.stop().then(
      async () => {
        await endpoint?.close();
        process.exit(0);
      },
      (e: unknown) => {
        LOG.error('error while stopping', e);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    cfg = reloadOnSighup(cfg, argv);
  });
  const t0 = process.uptime();
  try {
    await agent.start();
  } catch (e) {
    if (e instanceof StartupError) {
      LOG.critical(`${e.message} Agent terminated!`);
      fail(e.message);
    }
    throw e;
  }
  LOG.info(`bridges set up ${((process.uptime() - t0) * 1000).toFixed(0)} ms after start (process up ${(process.uptime() * 1000).toFixed(0)} ms)`);
}
