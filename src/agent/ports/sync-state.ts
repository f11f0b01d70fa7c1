// What the agent knows about its own progress, in one place: the reconciliation pass reads these to
// decide how much to redo, and every trigger (start, reconnect, OVS restart, a failed pass, a
// revived agent) says what it needs by setting one of them.

/**
 * starting: not set up yet (start-up); ready: as last set up; resetting: ovs-vswitchd restarted with
 * empty tables and they are set up again; failed: that set-up failed; recovering: one was deleted,
 * re-created or given a new datapath id and is not set up again yet.
 */
export type BridgeState = 'starting' | 'ready' | 'resetting' | 'failed' | 'recovering';

export class SyncState {
  /** The next pass treats every port on br-int as added (start, reconnect, revived, failed pass). */
  fullSync = true;
  /** The next pass re-adds every network's provisioning flows (ovs-vswitchd lost its flows). */
  provisioningNeeded = false;
  /** Ask the server for tunnel endpoints (tunnel_sync) before the next pass. */
  tunnelSyncNeeded = true;
  /** A full pass has succeeded with the server reachable: ports are wired as the server knows them. */
  get firstSyncDone(): boolean {
    return this.firstSynced;
  }
  set firstSyncDone(done: boolean) {
    this.firstSynced = done;
    if (!done) return;
    for (const w of this.firstSyncWaiters.splice(0)) w();
  }
  private firstSynced = false;
  private firstSyncWaiters: Array<() => void> = [];
  /** Resolves once the first full sync is done (readiness: systemd's READY=1). */
  whenFirstSyncDone(): Promise<void> {
    if (this.firstSynced) return Promise.resolve();
    return new Promise((r) => this.firstSyncWaiters.push(r));
  }
  /** The previous run's flows are gone (done once, after the first full pass without failures). */
  staleFlowsCleaned = false;
  /** neutron-server can be called and pushes reach us: passes need it for port details. */
  rpcReady = false;
  /**
   * How the bridges stand. Passes run while they are 'ready' or 'failed' (ports that can be wired
   * are; the next canary check retries the set-up), and wait while 'starting' or 'recovering'
   * (bridge-recovery.ts sets it back and kicks a pass). Readiness probes want 'ready'.
   */
  bridges: BridgeState = 'starting';
  get bridgesReady(): boolean {
    return this.bridges === 'ready';
  }
  /** Passes may touch the bridges: they are as last set up, or only a retried OVS-restart set-up failed. */
  get passesMayRun(): boolean {
    return this.bridges === 'ready' || this.bridges === 'failed';
  }
  /** stop() has begun: no new pass, report or timer starts. */
  stopping = false;

  /** Everything on the bridges must be redone: ovs-vswitchd restarted with empty flow tables. */
  redoAfterOvsRestart(): void {
    this.provisioningNeeded = true;
    this.fullSync = true;
    this.tunnelSyncNeeded = true;
  }
}
