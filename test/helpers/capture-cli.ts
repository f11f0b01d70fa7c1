// What the reference-capture programs (test/integration/*/capture.ts) share: a timestamped progress
// line on standard error, the `--out DIR` argument with its default, the check that no neutron id
// was left in the fixtures, and the failure carrying the reference agent's log tail.
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** One progress line on stderr, with the time of day. */
export function captureLog(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/** The fixture directory: `--out DIR`, else `defaultDir`; anything else on the command line is refused naming `script`. */
export function captureOutDir(script: string, defaultDir: string): string {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--out');
  if (i >= 0 && argv[i + 1] === undefined) throw new Error('--out needs a directory');
  // Everything but `--out DIR` (when given) is refused, the first argument too.
  const unknown = argv.filter((_a, j) => i < 0 || (j !== i && j !== i + 1));
  if (unknown.length) throw new Error(`unknown argument(s) ${unknown.join(' ')}; usage: ${script} [--out DIR]`);
  return resolve(i >= 0 ? argv[i + 1]! : defaultDir);
}

/** Every neutron id must have been replaced by its name in the fixtures: one left would differ on every run. */
export function assertNoIdsLeft(out: string, ids: ReadonlyMap<string, string>): void {
  const leaks: string[] = [];
  for (const f of readdirSync(out).filter((n) => n.endsWith('.json'))) {
    const text = readFileSync(join(out, f), 'utf8');
    for (const [name, id] of ids) if (text.includes(id) || text.includes(id.slice(0, 11))) leaks.push(`${f}: ${name}`);
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(text);
    if (uuid) leaks.push(`${f}: unnamed uuid ${uuid[0]}`);
  }
  if (leaks.length) throw new Error(`ids left in the fixtures: ${leaks.join('; ')}`);
}

/** The capture's error, after `context` when given, with the reference agent's log tail under it (when it got that far). */
export function captureFailure(e: unknown, agentLogTail: string | undefined, context?: string): Error {
  const tail = agentLogTail !== undefined ? `\n--- reference agent log tail ---\n${agentLogTail}` : '';
  return new Error(`${context ? `${context}: ` : ''}${e instanceof Error ? e.message : String(e)}${tail}`);
}
