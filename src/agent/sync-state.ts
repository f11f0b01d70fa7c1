// What the agent knows about its own progress, in one place: the reconciliation pass reads these to
// decide how much to redo, and every trigger (start, reconnect, OVS restart, a failed pass, a
// revived agent) says what it needs by setting one of them.

export class SyncState {
  /** The next pass treats every port on br-int as added (start, reconnect, revived, failed pass). */
  fullSync = true;
  /** The next pass re-adds every network's provisioning flows (ovs-vswitchd lost its flows). */
  provisioningNeeded = false;
  /** Ask the server for tunnel endpoints (tunnel_sync) before the next pass. */
  tunnelSyncNeeded = true;
  /** A full pass has succeeded with the server reachable: ports are wired as the server knows them. */
  firstSyncDone = false;
  /** The previous run's flows are gone (done once, after the first full pass without failures). */
  staleFlowsCleaned = false;
  /** neutron-server can be called and pushes reach us: passes need it for port details. */
  rpcReady = false;
  /**
   * Every managed bridge is as last set up. false while one is deleted, re-created or has a new
   * datapath id and is not set up again yet: passes wait (bridge-recovery.ts sets it back and kicks).
   */
  bridgesReady = true;
  /** stop() has begun: no new pass, report or timer starts. */
  stopping = false;

  /** Everything on the bridges must be redone: ovs-vswitchd restarted with empty flow tables. */
  redoAfterOvsRestart(): void {
    this.provisioningNeeded = true;
    this.fullSync = true;
    this.tunnelSyncNeeded = true;
  }
}
