// The operator CLI entry point.
export async function main(argv: string[]): Promise<void> {
  // `ovs-agent flows | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const { runOperatorCli } = await import('./operator.js');
  process.exitCode = await runOperatorCli(argv);
}
