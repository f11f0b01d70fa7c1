// DeviceReports.answered(): what a restarted agent waits for before deleting br-tun's flows of the
// previous run (the server sends the fdb entries while it answers update_device_list).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceReports } from '../../../src/agent/server/device-reports.js';
import type { AgentContext } from '../../../src/agent/context.js';
import type { DeviceListResult } from '../../../src/agent/server/rpc-payloads.js';

/** A context whose server answers update_device_list when the test says so. */
function harness(): { reports: DeviceReports; answer: (r: DeviceListResult | Error) => void; calls: number; retries: number } {
  const pending: Array<(r: DeviceListResult | Error) => void> = [];
  const h = { reports: undefined as unknown as DeviceReports, answer: (r: DeviceListResult | Error) => pending.shift()!(r), calls: 0, retries: 0 };
  const ctx = {
    sync: { stopping: false },
    settings: { rpcResourcesProcessingStep: 100 },
    scheduler: { scheduleRetry: () => h.retries++ },
    requireRpc: () => ({
      updateDeviceList: () => {
        h.calls++;
        return new Promise<DeviceListResult>((resolve, reject) => pending.push((r) => (r instanceof Error ? reject(r) : resolve(r))));
      },
    }),
  } as unknown as AgentContext;
  h.reports = new DeviceReports(ctx);
  return h;
}

const ok: DeviceListResult = { failedDevicesUp: new Set(), failedDevicesDown: new Set() };
const tick = async (): Promise<void> => new Promise((r) => setTimeout(r, 10));

describe('DeviceReports.answered', () => {
  it('resolves at once with nothing to report', async () => {
    await harness().reports.answered();
  });

  it('resolves once the server has answered the round, not before', async () => {
    const h = harness();
    h.reports.queue('p1', 'up');
    h.reports.request(true);
    let done = false;
    const a = h.reports.answered().then(() => (done = true));
    await tick();
    assert.equal(done, false, 'still waiting for the server');
    h.answer(ok);
    await a;
    assert.equal(h.calls, 1);
  });

  it('a failed round leaves it waiting until a later round is answered', async () => {
    const h = harness();
    h.reports.queue('p1', 'up');
    h.reports.request(true);
    let done = false;
    const a = h.reports.answered().then(() => (done = true));
    await tick();
    h.answer(new Error('timed out'));
    await tick();
    assert.equal(done, false, 'p1 is still unreported');
    assert.equal(h.retries, 1, 'a retry is scheduled');
    h.reports.request(false);
    await tick();
    h.answer(ok);
    await a;
    assert.equal(h.calls, 2);
  });
});
