// `ovs-agent status [--json]`: one screen on the running agent, read from its metrics endpoint
// (`[agent] metrics_bind` of the same configuration files). Exit 1 when the endpoint is not
// configured or does not answer, saying which.
import { request } from 'node:http';
import type { AgentConfig } from '../config/index.js';
import { formatListenAddress, parseListenAddress, type ListenAddress } from '../config/listen-address.js';
import { renderStatus, type StatusDocument } from '../metrics/status-document.js';

const TIMEOUT_MS = 5_000;
/** A status document is a few KB; a bigger answer is not our agent. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function status(cfg: AgentConfig, args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  const unknown = args.filter((a) => a !== '--json');
  if (unknown.length) {
    process.stderr.write(`ovs-agent status: unexpected argument ${unknown.join(' ')} (usage: ovs-agent status [--config-file F ...] [--json])\n`);
    return 2;
  }
  const bind = cfg.agent.metrics_bind;
  if (!bind) {
    const files = cfg.configFiles.join(', ') || 'no configuration file given';
    process.stderr.write(`ovs-agent status: [agent] metrics_bind is not set (${files}): the agent serves no status endpoint; set it, e.g. metrics_bind = 127.0.0.1:9792, and restart the agent\n`);
    return 1;
  }
  const target = clientTarget(parseListenAddress(bind));
  const url = `http://${formatListenAddress(target)}/status`;
  let body: string;
  try {
    body = await get(target, '/status');
  } catch (e) {
    process.stderr.write(`ovs-agent status: no agent answering at ${url}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  let doc: StatusDocument;
  try {
    doc = JSON.parse(body) as StatusDocument;
  } catch (e) {
    process.stderr.write(`ovs-agent status: ${url} did not return JSON: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  process.stdout.write(json ? JSON.stringify(doc, null, 2) + '\n' : renderStatus(doc));
  return 0;
}

/** A wildcard listen address is reached on the loopback of its family. */
function clientTarget(a: ListenAddress): ListenAddress {
  if (a.host === '0.0.0.0') return { host: '127.0.0.1', port: a.port };
  if (a.host === '::') return { host: '::1', port: a.port };
  return a;
}

function get(target: ListenAddress, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: target.host, port: target.port, path, method: 'GET', timeout: TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) req.destroy(new Error(`answer larger than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
        else resolve(Buffer.concat(chunks).toString('utf8'));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}
