// The `qos` L2 agent extension (neutron's QosAgentExtension with its Open vSwitch driver): the
// policy of each port, its own or its network's, fetched from the resource cache and kept current
// by the server's QosPolicy pushes, and enforced by the driver. Every change, from a port pass or a
// push, goes through one queue, so a port is never changed by two of them at once.
import { randomUUID } from 'node:crypto';
import type { JsonObject } from '../../util/json.js';
import type { RowChange } from '../../ovsdb/replica.js';
import { getLogger } from '../../util/log.js';
import type { AgentExtension, ExtensionAgentApi, ExtensionPort, ExtensionStatus } from '../seam.js';
import { QosDriver, desiredQos } from './driver.js';
import { switchMeterTable } from './meter-table.js';
import { parseQosPolicy, policyAppliesToPort, type QosPolicy } from './policy.js';
import { QosPortGoneError, QosRows } from './qos-rows.js';

const LOG = getLogger('extensions.qos');
/** Changes that come together (a transaction, a burst of them) are repaired together. */
const DRIFT_SETTLE_MS = 200;

export class QosAgentExtension implements AgentExtension {
  readonly name = 'qos';
  private api!: ExtensionAgentApi;
  private driver!: QosDriver;
  private rows!: QosRows;
  /** Ports handled, as last handed, with the policy in force on each. */
  private readonly ports = new Map<string, { port: ExtensionPort; policyId: string | undefined }>();
  private queue: Promise<void> = Promise.resolve();
  private readonly minimumBandwidthQosId = randomUUID();
  private firstPassDone = false;

  async initialize(api: ExtensionAgentApi): Promise<void> {
    this.api = api;
    this.rows = new QosRows(api.ops);
    this.driver = new QosDriver({
      ops: api.ops,
      rows: this.rows,
      meters: switchMeterTable(() => api.intSwitch()),
      intBridge: () => api.intBridge(),
      physicalBridges: () => api.physicalBridges(),
      userspaceDatapath: api.settings.datapathType === 'netdev',
      minimumBandwidthQosId: this.minimumBandwidthQosId,
    });
    await this.driver.initialize();
    api.cache.on('object-updated', (type, id, _old, now, changed) => {
      if (type === 'QosPolicy') this.serially(`policy ${id} updated`, () => this.onPolicyUpdated(now));
      else if (type === 'Network' && changed.includes('qos_policy_id')) this.serially(`network ${id}'s policy changed`, () => this.reapply((p) => p.networkId === id));
    });
    api.cache.on('object-deleted', (type, id) => {
      if (type === 'QosPolicy') this.serially(`policy ${id} deleted`, () => this.reapply((_p, policyId) => policyId === id));
    });
    api.ops.replica.on('update', (changes) => this.onOvsdbChanges(changes));
  }

  private driftTimer: NodeJS.Timeout | undefined;
  private readonly drifted = new Set<string>();
  private anyRowDrifted = false;

  /**
   * Drift repair of what QoS writes in OVSDB: a policing rate, a port's QoS, a QoS or Queue row
   * changed or deleted by something else is written back as the policy says (the driver compares
   * what is there with what should be, so the agent's own writes come back as no change).
   */
  private onOvsdbChanges(changes: readonly RowChange[]): void {
    for (const c of changes) {
      if (c.table === 'QoS' || c.table === 'Queue') this.anyRowDrifted = true;
      else if (c.table === 'Interface' && (c.old?.ingressPolicingRate !== c.new?.ingressPolicingRate || c.old?.ingressPolicingBurst !== c.new?.ingressPolicingBurst)) this.drifted.add(c.new?.name ?? c.old?.name ?? '');
      else if (c.table === 'Port' && c.old && c.new && c.old.qos !== c.new.qos) this.drifted.add(c.new.name);
    }
    if ((this.drifted.size === 0 && !this.anyRowDrifted) || this.driftTimer) return;
    this.driftTimer = setTimeout(() => {
      this.driftTimer = undefined;
      const names = new Set(this.drifted);
      const all = this.anyRowDrifted;
      this.drifted.clear();
      this.anyRowDrifted = false;
      this.serially('QoS rows changed in OVSDB', () => this.reapply((p, policyId) => policyId !== undefined && (all || names.has(p.portName))));
    }, DRIFT_SETTLE_MS);
    this.driftTimer.unref();
  }

  handlePort(port: ExtensionPort): Promise<void> {
    return this.serially(`port ${port.portId}`, () => this.applyPort(port), true);
  }

  deletePort(portId: string): Promise<void> {
    return this.serially(`port ${portId} removed`, async () => {
      const known = this.ports.get(portId);
      this.ports.delete(portId);
      await this.driver.reset(portId, known?.port);
    }, true);
  }

  bridgesReset(): Promise<void> {
    return this.serially('bridges set up again', async () => {
      this.driver.forgetSwitchState();
      await this.driver.installBridgeFlows();
    }, true);
  }

  /** Meters deleted under the agent are put back, with the flows that went with them. */
  audit(): Promise<void> {
    return this.serially('meter audit', async () => {
      for (const { port, lost } of await this.driver.auditMeters()) {
        LOG.warning(`port ${port.portId} (${port.portName}): meter ${lost.join(', ')} of ${this.api.settings.integrationBridge} was deleted under the agent; putting its QoS back`);
        await this.applyPort(port);
      }
    }, true);
  }

  /** After the first full pass: QoS rows an earlier run left for ports no longer here go. */
  firstSyncDone(): Promise<void> {
    if (this.firstPassDone) return Promise.resolve();
    this.firstPassDone = true;
    return this.serially('orphaned QoS rows', async () => {
      const handled = [...this.ports.values()];
      const n = await this.rows.removeOrphans({
        ingressPorts: new Set(handled.map((h) => h.port.portName)),
        minimumBandwidthQosId: this.minimumBandwidthQosId,
        minimumBandwidthPorts: new Set(handled.filter((h) => this.driver.appliedTo(h.port.portId)?.minimumBandwidth !== undefined).map((h) => h.port.portId)),
      });
      if (n) LOG.info(`removed ${n} QoS row(s) of ports no longer on ${this.api.settings.integrationBridge} or of an earlier run`);
      const m = await this.driver.removeUnclaimedMeters();
      if (m) LOG.info(`removed ${m} meter(s) an earlier run left on ${this.api.settings.integrationBridge} that no port uses`);
    }, true);
  }

  status(): ExtensionStatus {
    return { ports: this.driver?.portCount ?? 0, details: { policies: new Set([...this.ports.values()].map((p) => p.policyId).filter(Boolean)).size, meters: this.driver?.metersInUse() ?? 0 } };
  }

  async stop(): Promise<void> {
    clearTimeout(this.driftTimer);
    await this.queue;
  }

  // ----

  /** The policy in force on a port: its own, else its network's (the cached Network is the newest word on that). */
  private policyIdOf(port: ExtensionPort): string | undefined {
    if (port.qosPolicyId) return port.qosPolicyId;
    const net = this.api.cache.getCached('Network', port.networkId);
    if (net && 'qos_policy_id' in net) return typeof net['qos_policy_id'] === 'string' ? net['qos_policy_id'] : undefined;
    return port.networkQosPolicyId;
  }

  private async applyPort(port: ExtensionPort): Promise<void> {
    const policyId = this.policyIdOf(port);
    this.ports.set(port.portId, { port, policyId });
    const policy = policyId === undefined ? undefined : await this.fetchPolicy(policyId);
    if (policyId !== undefined && policy === undefined) LOG.info(`QoS policy ${policyId} applied to port ${port.portId} is not available on server, it has been deleted. Skipping.`);
    const rules = policy && policyAppliesToPort(policy.id, port) ? policy.rules : [];
    await this.driver.apply(port, desiredQos(rules));
  }

  private async fetchPolicy(id: string): Promise<QosPolicy | undefined> {
    const o = await this.api.cache.get('QosPolicy', id);
    return o === undefined ? undefined : parseQosPolicy(o);
  }

  private async onPolicyUpdated(now: JsonObject): Promise<void> {
    const policy = parseQosPolicy(now);
    await this.reapply((_p, policyId) => policyId === policy.id);
  }

  /** Applies again, with the policies as cached now, every known port `which` selects. */
  private async reapply(which: (port: ExtensionPort, policyId: string | undefined) => boolean): Promise<void> {
    for (const { port, policyId } of [...this.ports.values()]) {
      if (!which(port, policyId)) continue;
      try {
        await this.applyPort(port);
      } catch (e) {
        // A VM deleted while its policy changes: its port's removal is on its way, nothing is wrong.
        if (e instanceof QosPortGoneError) LOG.info(`QoS of port ${port.portId} (${port.portName}) not updated: ${e.message}; the port's next pass decides`);
        else LOG.error(`QoS of port ${port.portId} (${port.portName}) not updated; the next pass of the port retries`, e);
        this.api.requestPass();
      }
    }
  }

  /**
   * Runs `fn` after everything queued before it. A failure of a push's work is logged with what it
   * was for; a failure of a port's work (`rethrow`) goes back to the port pass, which retries.
   */
  private serially(what: string, fn: () => Promise<void>, rethrow = false): Promise<void> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    if (rethrow) return run;
    run.catch((e: unknown) => LOG.error(`QoS: ${what}`, e));
    return Promise.resolve();
  }
}
