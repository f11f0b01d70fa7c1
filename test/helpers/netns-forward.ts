// A TCP service of the test's namespace (RabbitMQ) made reachable on 127.0.0.1 inside another
// namespace (a simulated host), through a unix socket: nothing listens on any other address.
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export class NetnsForward {
  private constructor(private readonly server: Server, private readonly child: ChildProcess, private readonly dir: string) {}

  static async start(netns: string, listenPort: number, targetPort: number): Promise<NetnsForward> {
    const dir = mkdtempSync(join(tmpdir(), 'ovs-agent-fwd-'));
    const sock = join(dir, 'fwd.sock');
    const server = createServer((u) => {
      const t = createConnection(targetPort, '127.0.0.1');
      u.pipe(t).pipe(u);
      const end = () => {
        u.destroy();
        t.destroy();
      };
      u.on('error', end);
      t.on('error', end);
      u.on('close', end);
      t.on('close', end);
    });
    await new Promise<void>((r) => server.listen(sock, r));
    const script = resolve('dist/test/helpers/tcp-to-unix.js');
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, script, String(listenPort), sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res, rej) => {
      child.stdout!.once('data', () => res());
      child.once('exit', (code) => rej(new Error(`forwarder in ${netns} exited (${code})`)));
    });
    return new NetnsForward(server, child, dir);
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await new Promise<void>((r) => this.server.close(() => r()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
