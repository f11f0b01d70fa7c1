// Files of the checkout the lab tooling runs (scripts/lab/lab.sh, bin/…), found from this module's
// own location, so the demo, the benchmarks and the tests work from lab/*.ts or dist/lab/*.js and
// whatever the current directory is.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The absolute path of `relPath` in the checkout holding this module (walks up at most 5 levels). */
export function checkoutFile(relPath: string): string {
  const here = fileURLToPath(import.meta.url);
  let dir = dirname(here);
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, relPath);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`${relPath} not found in any directory above ${here}`);
}
