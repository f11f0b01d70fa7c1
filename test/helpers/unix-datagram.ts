// A unix datagram socket bound by python3 (Node has none): what syslog's /dev/log and systemd's
// NOTIFY_SOCKET are. Each datagram is reported with the sender's pid from its credentials, and any
// file descriptor passed along (systemd-notify's barrier) is closed on receipt, as systemd does.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Datagram {
  text: string;
  /** The sender's pid (SCM_CREDENTIALS). */
  pid: number;
}

const SCRIPT = `
import socket, sys, json, struct, array, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(64))
    pid = 0
    for level, kind, data in anc:
        if kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
        elif kind == socket.SCM_RIGHTS:
            fds = array.array("i"); fds.frombytes(data[: len(data) - len(data) % 4])
            for fd in fds: os.close(fd)
    print(json.dumps({"text": msg.decode(errors="replace"), "pid": pid}), flush=True)
`;

export class DatagramReceiver {
  readonly messages: Datagram[] = [];
  private readonly proc: ChildProcess;
  readonly ready: Promise<void>;

  constructor(readonly path: string) {
    this.proc = spawn('/usr/bin/python3', ['-c', SCRIPT, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    let onReady: () => void = () => undefined;
    let onFail: (e: Error) => void = () => undefined;
    this.ready = new Promise<void>((res, rej) => {
      onReady = res;
      onFail = rej;
    });
    this.proc.on('error', (e) => onFail(new Error(`python3 datagram receiver at ${path}: ${e.message}`)));
    this.proc.on('exit', (code) => onFail(new Error(`python3 datagram receiver at ${path} exited (${code})`)));
    this.proc.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'ready') onReady();
        else this.messages.push(JSON.parse(line) as Datagram);
      }
    });
  }

  stop(): void {
    this.proc.kill();
  }
}
