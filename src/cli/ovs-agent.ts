// The operator CLI. Subcommands grow with the agent; `flows` shows the live pipeline annotated.
export async function main(argv: string[]): Promise<void> {
  const { runOperatorCli } = await import('./operator.js');
  process.exitCode = await runOperatorCli(argv);
}
