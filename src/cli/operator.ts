// `ovs-agent`: what an operator asks of a running agent's host.
export async function runOperatorCli(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (!cmd || cmd === '--help' || cmd === '-h') {
    process.stdout.write('usage: ovs-agent <command> [--config-file FILE ...]\n\ncommands:\n  flows   the live pipeline of every agent bridge, tables named, flows tied to ports and networks\n');
    return 0;
  }
  process.stderr.write(`ovs-agent: unknown command '${cmd}' (try --help)\n`);
  return 2;
}
