// The security-group firewall named by `[securitygroup] firewall_driver`, built on the bridges as
// set up and fed from the agent's resource cache (spec firewall.md §1). Without one (noop) ports are
// not filtered, as with the reference. With enable_security_group = False the named driver is still
// built, as the reference builds it, but filters no port (src/firewall/disabled.ts).
// Each driver's modules load only when it is the one configured: start-up does not pay for the others.
import type { FirewallDriver } from '../../firewall/driver.js';
import type { OvsdbOps } from '../../ovsdb/ops.js';
import type { FirewallPort } from '../../firewall/types.js';
import type { Bridges } from '../bridges/bridge-setup.js';
import type { ResourceCache } from '../server/resource-cache.js';
import type { AgentSettings } from '../settings.js';
import { egressPatchOfport } from './egress-direct.js';
import { SecurityGroupsDisabled } from '../../firewall/disabled.js';

/** What a driver is built on: the settings, the bridges as set up now, the cache it reads groups from. */
export interface FirewallInputs {
  settings: AgentSettings;
  bridges: () => Bridges;
  cache: ResourceCache;
  ops: OvsdbOps;
  /** A group's rules or members changed: the ports using it are filtered again in the next pass. */
  onRefilterNeeded: () => void;
}

export async function createFirewall(inputs: FirewallInputs): Promise<FirewallDriver | undefined> {
  const driver = await createDriver(inputs);
  if (driver === undefined || inputs.settings.enableSecurityGroup) return driver;
  // The reference's openvswitch driver installs its base flows when built and does nothing when a
  // port that it never filtered leaves; its iptables driver applies its (portless) rule set then.
  return new SecurityGroupsDisabled(driver, driver.name === 'openvswitch' ? { start: true, removals: false } : { start: false, removals: true });
}

async function createDriver({ settings, bridges, cache, ops, onRefilterNeeded }: FirewallInputs): Promise<FirewallDriver | undefined> {
  switch (settings.firewallDriver) {
    case 'noop':
      return undefined;
    case 'openvswitch': {
      const [{ OVSFirewallDriver }, { HybridIptablesLeftovers, bridgeCleanedMark }, { CacheSecurityGroupSource }] = await Promise.all([
        import('../../firewall/openvswitch/firewall.js'), import('../../firewall/openvswitch/hybrid-leftovers.js'), import('../../firewall/sg-source.js'),
      ]);
      return new OVSFirewallDriver(bridges().int, new CacheSecurityGroupSource(cache), {
        permittedEthertypes: settings.permittedEthertypes,
        explicitlyEgressDirect: settings.explicitlyEgressDirect,
        egressPatchOfport: (p: FirewallPort) => egressPatchOfport(bridges(), p),
        onRefilterNeeded,
        // Rules of an earlier iptables_hybrid run go once its ports are filtered by flows; br-int's
        // other_config:iptables_cleaned says so, as with the reference.
        // Without security groups no port is filtered by flows, so nothing of iptables_hybrid is undone.
        hybridLeftovers: !settings.enableSecurityGroup ? false : new HybridIptablesLeftovers({
          mark: bridgeCleanedMark(settings.integrationBridge, {
            otherConfig: (b) => ops.replica.bridge(b)?.otherConfig,
            setBridgeOtherConfig: (b, kv) => ops.setBridgeOtherConfig(b, kv),
          }),
        }),
      });
    }
    case 'iptables_hybrid': {
      const [{ IptablesHybridFirewall }, { CacheSecurityGroupSource }] = await Promise.all([import('../../firewall/iptables/driver.js'), import('../../firewall/sg-source.js')]);
      return new IptablesHybridFirewall({ source: new CacheSecurityGroupSource(cache), enableIpset: settings.enableIpset, onRefilterNeeded });
    }
    case 'iptables':
      // The config loader refuses drivers that are not implemented; reaching here is a bug.
      throw new Error(`firewall_driver ${settings.firewallDriver} is not implemented`);
  }
}
