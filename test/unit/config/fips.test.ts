// ssl_enforce_fips_mode in a child process (the switch is process-wide): either FIPS mode works and
// TLS-grade digests still compute, or the agent is told why not and crypto is left as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('enforceFipsMode: usable FIPS mode, or a clear refusal with crypto left working', () => {
  const mod = fileURLToPath(new URL('../../../src/config/tls.js', import.meta.url));
  const script = `
    const { enforceFipsMode } = await import(${JSON.stringify(mod)});
    const { createHash } = await import('node:crypto');
    let refused = '';
    try { enforceFipsMode(); } catch (e) { refused = e.message; }
    createHash('sha256').update('x').digest();
    process.stdout.write(refused ? 'REFUSED ' + refused : 'FIPS');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  if (r.stdout !== 'FIPS') {
    assert.match(r.stdout, /^REFUSED OpenSSL FIPS mode (is not usable here|cannot be enabled).*set '\[oslo_messaging_rabbit\] ssl_enforce_fips_mode' to False$/);
  }
});
