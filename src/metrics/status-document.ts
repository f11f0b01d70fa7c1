// GET /status: what `ovs-agent status` shows, as one JSON document. Kept apart from the server
// and prom-client so the CLI reads the same type without loading either.
import type { AgentSnapshot } from '../agent/status/metrics.js';

export interface StatusDocument {
  pid: number;
  uptimeSeconds: number;
  ready: boolean;
  /** What keeps /readyz at 503 (empty when ready). */
  missing: string[];
  connections: {
    ovsdb: { endpoint: string; connected: boolean; reconnects: number };
    openflow: Array<{ bridge: string; connected: boolean }>;
    openflowReconnects: number;
    messageBus: { url: string; connected: boolean; reconnects: number } | undefined;
  };
  firstSyncDone: boolean;
  lastFullSync: { at: string; ports: number; seconds: number } | undefined;
  stateReportAgeSeconds: number | undefined;
  ports: AgentSnapshot['ports'];
  localVlans: AgentSnapshot['localVlans'];
  tunnels: AgentSnapshot['tunnels'];
  firewall: AgentSnapshot['firewall'];
  extensions: AgentSnapshot['extensions'];
  lastErrors: Array<{ at: string; level: string; logger: string; message: string }>;
}

/** The document as `ovs-agent status` prints it: one screen. */
export function renderStatus(d: StatusDocument): string {
  const out: string[] = [];
  const yes = (b: boolean) => (b ? 'connected' : 'NOT CONNECTED');
  out.push(`agent pid ${d.pid}, up ${formatDuration(d.uptimeSeconds)}: ${d.ready ? 'READY' : `NOT READY (${d.missing.join('; ')})`}`);
  out.push('');
  out.push('connections');
  out.push(`  ovsdb         ${d.connections.ovsdb.endpoint}: ${yes(d.connections.ovsdb.connected)} (${d.connections.ovsdb.reconnects} reconnects)`);
  for (const o of d.connections.openflow) out.push(`  openflow      ${o.bridge}: ${yes(o.connected)}`);
  if (d.connections.openflowReconnects) out.push(`  openflow      ${d.connections.openflowReconnects} switch reconnects`);
  const mb = d.connections.messageBus;
  out.push(mb ? `  message bus   ${mb.url}: ${yes(mb.connected)} (${mb.reconnects} reconnects)` : '  message bus   none (transport_url = fake:/)');
  out.push('');
  const sync = d.lastFullSync ? `${d.lastFullSync.at}, ${d.lastFullSync.ports} ports in ${d.lastFullSync.seconds.toFixed(2)} s` : 'not yet';
  out.push(`last full sync     ${sync}${d.firstSyncDone ? '' : ' (first full sync not done)'}`);
  out.push(`last state report  ${d.stateReportAgeSeconds === undefined ? 'none accepted yet' : `${d.stateReportAgeSeconds.toFixed(0)} s ago`}`);
  out.push(`ports              ${d.ports.bound} bound, ${d.ports.isolated} isolated (VLAN 4095), ${d.ports.retrying} retrying`);
  if (d.firewall) out.push(`firewall           ${d.firewall.driver}: ${d.firewall.ports} ports, ${d.firewall.rules} rules, ${d.firewall.members} remote members`);
  for (const [name, e] of Object.entries(d.extensions ?? {})) {
    const details = Object.entries(e.details).map(([k, v]) => `${v} ${k}`).join(', ');
    out.push(`extension ${name.padEnd(9)}${e.ports} port${e.ports === 1 ? '' : 's'}${details ? `, ${details}` : ''}`);
  }
  out.push('');
  out.push(`local VLANs (${d.localVlans.length})`);
  for (const v of d.localVlans) {
    const seg = v.segmentationId !== undefined ? ` ${v.segmentationId}` : '';
    const phys = v.physicalNetwork ? ` on ${v.physicalNetwork}` : '';
    out.push(`  vlan ${String(v.vlan).padEnd(5)} network ${v.networkId} (${v.networkType}${seg}${phys}), ${v.ports} port${v.ports === 1 ? '' : 's'}`);
  }
  out.push(`tunnels (${d.tunnels.length})`);
  for (const t of d.tunnels) out.push(`  ${t.type} to ${t.remoteIp} (ofport ${t.ofport})`);
  out.push(`last errors (${d.lastErrors.length})`);
  for (const e of d.lastErrors) out.push(`  ${e.at} ${e.level} ${e.logger} ${e.message}`);
  return out.join('\n') + '\n';
}

function formatDuration(sec: number): string {
  const s = Math.floor(sec);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
