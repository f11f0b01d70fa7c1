// br-int's meters through the OpenFlow seam, whichever backend carries them: with `native` the meter
// mods go over the agent's own OpenFlow connection, with `ovs-ofctl` as ovs-ofctl add-meter/mod-meter.
import { MeterModError, type OpenFlowSwitch } from '../../openflow/backend.js';
import { dropMeter, metersUsable, type Meter } from '../../openflow/meter.js';
import type { MeterTable } from './meters.js';

export function switchMeterTable(sw: () => OpenFlowSwitch): MeterTable {
  return {
    async maxMeters() {
      const f = await sw().meterFeatures();
      return metersUsable(f) ? f.maxMeter : 0;
    },
    async set(id, band) {
      // Packet-rate meters as the reference sends them: the burst size without OFPMF_BURST (so Open
      // vSwitch uses its default burst); bandwidth meters (ours) with it.
      const meter: Meter = band.unit === 'pktps'
        ? { id, unit: 'pktps', bands: [{ type: 'drop', rate: band.rate, ...(band.burst ? { burstSize: band.burst } : {}) }] }
        : dropMeter(id, band.unit, band.rate, band.burst);
      // As the reference: add, and modify when the switch already has the id (a restart left it).
      try {
        await sw().applyMeter({ command: 'add', meter });
      } catch (e) {
        if (!(e instanceof MeterModError && e.failure === 'OFPMMFC_METER_EXISTS')) throw e;
        await sw().applyMeter({ command: 'modify', meter });
      }
    },
    async delete(id) {
      await sw().applyMeter({ command: 'delete', meterId: id });
    },
    async ids() {
      return (await sw().dumpMeters()).map((m) => m.id);
    },
  };
}
