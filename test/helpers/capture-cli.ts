// What the reference-capture tools (scripts/capture-*-reference.sh) share: their log lines
// (time-stamped, on stderr) and their one option, `--out DIR`.
import { resolve } from 'node:path';

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
