// The agent as operators run it: the CLI in a child process with config files, its log captured.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkoutFile } from './checkout.js';

export const AGENT_BIN = checkoutFile('bin/neutron-openvswitch-agent.js');

export class AgentProcess {
  readonly dir: string;
  private child?: ChildProcess;
  output = '';
  exitCode: number | null | undefined;
  private exited?: Promise<number | null>;

  constructor(
    readonly files: Record<string, string>,
    readonly env: NodeJS.ProcessEnv = process.env,
    /** Run inside this network namespace (a simulated host). */
    readonly netns?: string,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'ovs-agent-cfg-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(this.dir, name), text);
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Start with `--config-file` for each file, in the given order, plus extra args. */
  start(args: string[] = Object.keys(this.files).flatMap((f) => ['--config-file', this.path(f)])): this {
    const [cmd, argv] = this.netns
      ? ['ip', ['netns', 'exec', this.netns, process.execPath, AGENT_BIN, ...args]]
      : [process.execPath, [AGENT_BIN, ...args]];
    const child = spawn(cmd, argv, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (b: Buffer) => (this.output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (this.output += b.toString()));
    this.exited = new Promise((r) => child.on('exit', (code) => {
      this.exitCode = code;
      r(code);
    }));
    return this;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Waits for `re` in what the agent printed from offset `from` of `output` on. */
  async waitForLog(re: RegExp, timeoutMs = 20000, from = 0): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.output.slice(from));
      if (m) return m[0];
      if (this.exitCode !== undefined) throw new Error(`agent exited (${this.exitCode}) before logging ${re}:\n${this.output}`);
      if (Date.now() > end) throw new Error(`agent did not log ${re} within ${timeoutMs} ms:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Wait for the process to end by itself; returns its exit code. */
  async waitExit(timeoutMs = 20000): Promise<number | null> {
    const t = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    const res = await Promise.race([this.exited!, t]);
    if (res === 'timeout') throw new Error(`agent still running after ${timeoutMs} ms:\n${this.output}`);
    return res;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.child || this.exitCode !== undefined) return this.exitCode ?? null;
    this.child.kill(signal);
    // A pass waiting on the server when SIGTERM comes may take [agent] quitting_rpc_timeout
    // (10 s by default) to give up, as the reference's does: allow for it and a loaded machine.
    return this.waitExit(25000);
  }

  cleanup(): void {
    if (this.child && this.exitCode === undefined) this.child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
