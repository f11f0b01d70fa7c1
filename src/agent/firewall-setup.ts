// The security-group firewall named by `[securitygroup] firewall_driver`, built on the bridges as
// set up and fed from the agent's resource cache (spec firewall.md §1). Without one (noop, or
// enable_security_group = False) ports are not filtered, as with the reference.
// Each driver's modules load only when it is the one configured: start-up does not pay for the others.
import type { FirewallDriver } from '../firewall/driver.js';
import type { OvsdbOps } from '../ovsdb/ops.js';
import type { FirewallPort } from '../firewall/types.js';
import type { Bridges } from './bridge-setup.js';
import type { ResourceCache } from './resource-cache.js';
import type { AgentSettings } from './settings.js';
import { isTunnelType } from '../bridges/tables.js';

export async function createFirewall(
  settings: AgentSettings,
  bridges: () => Bridges,
  cache: ResourceCache,
  ops: OvsdbOps,
  onRefilterNeeded: () => void,
): Promise<FirewallDriver | undefined> {
  if (!settings.enableSecurityGroup) return undefined;
  switch (settings.firewallDriver) {
    case 'noop':
      return undefined;
    case 'openvswitch': {
      const [{ OVSFirewallDriver }, { HybridIptablesLeftovers, bridgeCleanedMark }, { CacheSecurityGroupSource }] = await Promise.all([
        import('../firewall/openvswitch/firewall.js'), import('../firewall/openvswitch/hybrid-leftovers.js'), import('../firewall/sg-source.js'),
      ]);
      return new OVSFirewallDriver(bridges().int, new CacheSecurityGroupSource(cache), {
        permittedEthertypes: settings.permittedEthertypes,
        explicitlyEgressDirect: settings.explicitlyEgressDirect,
        // Where a port's network leaves br-int: patch-tun for tunnels, int-<physbr> for mapped physnets.
        egressPatchOfport: (p: FirewallPort) => {
          const b = bridges();
          if (isTunnelType(p.networkType)) return b.patchTunOfport;
          return p.networkType === 'vlan' && p.physicalNetwork ? b.phys.get(p.physicalNetwork)?.intOfport : undefined;
        },
        onRefilterNeeded,
        // Rules of an earlier iptables_hybrid run go once its ports are filtered by flows; br-int's
        // other_config:iptables_cleaned says so, as with the reference.
        hybridLeftovers: new HybridIptablesLeftovers({
          mark: bridgeCleanedMark(settings.integrationBridge, {
            otherConfig: (b) => ops.replica.bridge(b)?.otherConfig,
            setBridgeOtherConfig: (b, kv) => ops.setBridgeOtherConfig(b, kv),
          }),
        }),
      });
    }
    case 'iptables_hybrid': {
      const [{ IptablesHybridFirewall }, { CacheSecurityGroupSource }] = await Promise.all([import('../firewall/iptables/driver.js'), import('../firewall/sg-source.js')]);
      return new IptablesHybridFirewall({ source: new CacheSecurityGroupSource(cache), enableIpset: settings.enableIpset, onRefilterNeeded });
    }
    case 'iptables':
      // The config loader refuses drivers that are not implemented; reaching here is a bug.
      throw new Error(`firewall_driver ${settings.firewallDriver} is not implemented`);
  }
}
