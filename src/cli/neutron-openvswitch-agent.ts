// The drop-in daemon: same command line and options as neutron-openvswitch-agent.
import { ConfigError, HelpRequested, VersionRequested, loadConfig, reloadMutable, validateLocalIpOnHost, type AgentConfig } from '../config/index.js';
import { OvsAgent, StartupError } from '../agent/agent.js';
import { settingsFromConfig, type AgentSettings } from '../agent/settings.js';
import { getLogger } from '../util/log.js';
import { redactSecrets, registerSecret } from '../util/redact.js';
import { configDumpLines } from '../config/dump.js';
import { reloadLogging, setupLogging } from './logging.js';
import { notifyReady } from './sd-notify.js';

const PROG = 'neutron-openvswitch-agent';
const LOG = getLogger('cli');

function fail(msg: string): never {
  process.stderr.write(`${PROG}: ${redactSecrets(msg)}\n`);
  process.exit(1);
}

/**
 * SIGHUP, as oslo's mutate_config_files: the same command line and files are read again and only
 * the mutable options (debug, log_config_append) take effect, and a modified log_config_append file is
 * read again; the bridges and flows are untouched.
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
  reloadLogging(current, next.config);
  if (next.changed.length === 0) {
    LOG.info('SIGHUP: configuration files re-read; no mutable option changed');
    return current;
  }
  LOG.info(`SIGHUP: configuration files re-read; changed: ${next.changed.join(', ')}`);
  if (next.config.DEFAULT.debug !== current.DEFAULT.debug) LOG.debug('logging at DEBUG level');
  return next.config;
}

/** When the entry script started (ms since process start); it loads this module and calls main. */
export interface StartTimes {
  entryMs?: number;
}

/** The configuration from the command line and files, with logging set up as it asks; exits on --help/--version or a bad option. */
function configure(argv: string[]): AgentConfig {
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
  try {
    setupLogging(cfg);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    fail(`logging: ${e instanceof Error ? e.message : String(e)}`);
  }
  for (const w of cfg.warnings) LOG.warning(w);
  LOG.info(`starting with ${cfg.configFiles.join(', ') || 'no config file'}`);
  if (cfg.DEFAULT.debug) for (const line of configDumpLines(cfg, argv)) LOG.debug(line);
  return cfg;
}

/** `[agent] metrics_bind`: started before the agent so its first steps are counted; prom-client loads only when asked for. */
async function startMetrics(settings: AgentSettings, agent: OvsAgent): Promise<{ close(): Promise<void> } | undefined> {
  if (!settings.metricsBind) return undefined;
  const { MetricsEndpoint } = await import('../metrics/server.js');
  try {
    return await MetricsEndpoint.start({
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

/** SIGTERM/SIGINT stop the agent (flows stay); SIGHUP re-reads the mutable options. */
function handleSignals(agent: OvsAgent, endpoint: { close(): Promise<void> } | undefined, cfg: AgentConfig, argv: readonly string[]): void {
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
}

export async function main(argv: string[], times: StartTimes = {}): Promise<void> {
  const modulesLoadedMs = performance.now();
  const cfg = configure(argv);
  const settings = settingsFromConfig(cfg);
  const agent = new OvsAgent(settings);
  const endpoint = await startMetrics(settings, agent);
  handleSignals(agent, endpoint, cfg, argv);
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
  const upMs = performance.now();
  const entry = times.entryMs !== undefined ? `node ${times.entryMs.toFixed(0)} ms, loading modules ${(modulesLoadedMs - times.entryMs).toFixed(0)} ms, ` : '';
  LOG.info(
    `bridges set up ${((process.uptime() - t0) * 1000).toFixed(0)} ms after start (process up ${upMs.toFixed(0)} ms: ` +
      `${entry}configuration and bridges ${(upMs - modulesLoadedMs).toFixed(0)} ms)`,
  );
  // Ready for systemd once ports are wired as the server knows them; with no server (fake:/), once
  // the bridges are set up.
  const noServer = cfg.DEFAULT.transport_url.startsWith('fake:');
  void (noServer ? Promise.resolve() : agent.sync.whenFirstSyncDone()).then(() =>
    notifyReady(noServer ? 'bridges set up (transport_url fake:/, no neutron-server)' : 'first full sync done; wiring ports as they come'));
}
