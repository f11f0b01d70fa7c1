// The HTTP endpoint of `[agent] metrics_bind`: GET /metrics (Prometheus text format), /healthz,
// /readyz and /status. Loaded only when the option is set. It must never hold up the agent: no
// request body is read, headers and requests are bounded in size and time, idle or slow sockets
// are dropped, and every answer is built from in-memory state without waiting on OVS or the server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setMetricsRecorder, type AgentSnapshot } from '../agent/status/metrics.js';
import { formatListenAddress, type ListenAddress } from '../config/listen-address.js';
import { getLogger, setProblemObserver } from '../util/log.js';
import { PromRecorder, readiness, type BridgeNames } from './recorder.js';
import type { StatusDocument } from './status-document.js';

const LOG = getLogger('metrics');
/** Whole request (headers included) must arrive within this. */
const REQUEST_TIMEOUT_MS = 5_000;
const HEADERS_TIMEOUT_MS = 3_000;
/** A socket with nothing moving for this long is closed (also a client that does not read). */
const SOCKET_IDLE_MS = 10_000;
const MAX_HEADER_BYTES = 8 * 1024;
const MAX_CONNECTIONS = 64;

export interface MetricsEndpointOptions {
  bind: ListenAddress;
  bridges: BridgeNames;
  /** The agent's state now; undefined before the agent object exists. */
  snapshot: () => AgentSnapshot | undefined;
}

export class MetricsEndpoint {
  private constructor(
    readonly recorder: PromRecorder,
    private readonly server: Server,
    private readonly snapshot: () => AgentSnapshot | undefined,
  ) {}

  /** Installs the recorder and listens; rejects naming the address when it cannot (EADDRINUSE, ...). */
  static async start(opts: MetricsEndpointOptions): Promise<MetricsEndpoint> {
    const recorder = new PromRecorder(opts.bridges, opts.snapshot);
    const server = createServer({
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      maxHeaderSize: MAX_HEADER_BYTES,
      keepAliveTimeout: 5_000,
      // How often the request and headers timeouts are enforced (node's default is every 30 s).
      connectionsCheckingInterval: 1_000,
    });
    const endpoint = new MetricsEndpoint(recorder, server, opts.snapshot);
    server.maxConnections = MAX_CONNECTIONS;
    server.setTimeout(SOCKET_IDLE_MS, (socket) => socket.destroy());
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void endpoint.handle(req, res));
    // A malformed request: answer 400 if the socket can still take it, then close it.
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      LOG.debug(`metrics endpoint: bad request from a client: ${err.code ?? err.message}`);
      const status =
        err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout'
        : '400 Bad Request';
      if (socket.writable && !socket.destroyed) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      else socket.destroy();
    });
    const where = formatListenAddress(opts.bind);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`metrics endpoint [agent] metrics_bind = ${where}: ${e.message}`)));
      server.listen(opts.bind.port, opts.bind.host, () => resolve());
    });
    server.on('error', (e) => LOG.error(`metrics endpoint on ${where}`, e));
    setMetricsRecorder(recorder);
    setProblemObserver((level, logger, message) => recorder.logged(level, logger, message));
    LOG.info(`serving /metrics, /healthz, /readyz and /status on http://${formatListenAddress({ host: opts.bind.host, port: endpoint.port })}`);
    return endpoint;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    setMetricsRecorder(undefined);
    setProblemObserver(undefined);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      // A body is never read: a request announcing one is refused and its connection closed.
      if (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0' || req.headers['transfer-encoding'] !== undefined) {
        return reply(res, 413, 'text/plain', 'request bodies are not accepted\n', true);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        return reply(res, 405, 'text/plain', 'only GET\n');
      }
      const path = (req.url ?? '/').split('?')[0];
      switch (path) {
        case '/metrics': {
          const text = await this.recorder.registry.metrics();
          return reply(res, 200, this.recorder.registry.contentType, text);
        }
        case '/healthz':
          return reply(res, 200, 'text/plain', 'ok\n');
        case '/readyz': {
          const r = readiness(this.snapshot());
          return reply(res, r.ready ? 200 : 503, 'application/json', JSON.stringify(r) + '\n');
        }
        case '/status':
          return reply(res, 200, 'application/json', JSON.stringify(this.status()) + '\n');
        default:
          return reply(res, 404, 'text/plain', 'not found: /metrics, /healthz, /readyz, /status\n');
      }
    } catch (e) {
      LOG.error(`metrics endpoint: answering ${req.method} ${req.url}`, e);
      if (!res.headersSent) reply(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    }
  }

  private status(): StatusDocument {
    const s = this.snapshot();
    const r = readiness(s);
    const iso = (ms: number) => new Date(ms).toISOString();
    const counts = this.recorder.reconnectCounts;
    return {
      pid: process.pid,
      uptimeSeconds: process.uptime(),
      ready: r.ready,
      missing: r.missing,
      connections: {
        ovsdb: { endpoint: s?.ovsdb.endpoint ?? '', connected: s?.ovsdb.connected ?? false, reconnects: counts.ovsdb },
        openflow: s?.openflow ?? [],
        openflowReconnects: counts.openflow,
        messageBus: s?.messageBus ? { ...s.messageBus, reconnects: counts.message_bus } : undefined,
      },
      firstSyncDone: s?.firstSyncDone ?? false,
      lastFullSync: s?.lastFullSync ? { at: iso(s.lastFullSync.at), ports: s.lastFullSync.ports, seconds: s.lastFullSync.seconds } : undefined,
      stateReportAgeSeconds: s?.lastStateReportAt !== undefined ? (Date.now() - s.lastStateReportAt) / 1000 : undefined,
      ports: s?.ports ?? { bound: 0, isolated: 0, retrying: 0 },
      localVlans: s?.localVlans ?? [],
      tunnels: s?.tunnels ?? [],
      firewall: s?.firewall,
      extensions: s?.extensions ?? {},
      lastErrors: this.recorder.lastErrors.map((e) => ({ ...e, at: iso(e.at) })),
    };
  }
}

function reply(res: ServerResponse, status: number, type: string, body: string, close = false): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  if (close) res.setHeader('Connection', 'close');
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
