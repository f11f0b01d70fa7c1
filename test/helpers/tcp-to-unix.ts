// Run inside a host's network namespace: accept TCP on 127.0.0.1:<port> and carry each
// connection over a unix socket to the other side (see netns-forward.ts). Unix sockets live in
// the file system, so they cross network namespaces while every TCP end stays on loopback.
//   node tcp-to-unix.js <listen port> <unix socket path>
import { createConnection, createServer } from 'node:net';

const [port, path] = process.argv.slice(2);
const server = createServer((c) => {
  const u = createConnection(path!);
  c.pipe(u).pipe(c);
  const end = () => {
    c.destroy();
    u.destroy();
  };
  c.on('error', end);
  u.on('error', end);
  c.on('close', end);
  u.on('close', end);
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
