// Certificates a TLS test makes for itself with openssl: two CAs and leaf certificates signed by
// either, valid now or expired, naming whatever subjectAltName the test asks for. Everything
// lives in one temporary directory that destroy() removes.
//
//   const pki = await TestPki.create();
//   const ca = await pki.ca('ca1');
//   const server = await pki.leaf(ca, 'server', { san: 'IP:127.0.0.1' });
//   const expired = await pki.leaf(ca, 'old', { san: 'IP:127.0.0.1', expired: true });
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCa {
  readonly name: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly dir: string;
}

export interface TestCert {
  readonly certFile: string;
  readonly keyFile: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${err.stderr || err.message}`);
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export class TestPki {
  private constructor(readonly dir: string) {}

  static create(): TestPki {
    return new TestPki(mkdtempSync(join(tmpdir(), 'ovs-agent-pki-')));
  }

  /** A self-signed CA with its own `openssl ca` database (so it can back-date certificates). */
  async ca(name: string): Promise<TestCa> {
    const dir = join(this.dir, name);
    mkdirSync(join(dir, 'issued'), { recursive: true });
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), '1000\n');
    writeFileSync(join(dir, 'ca.cnf'), [
      '[ca]', 'default_ca = test_ca',
      '[test_ca]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir/issued', 'serial = $dir/serial',
      'default_md = sha256', 'policy = any_name', 'unique_subject = no', 'copy_extensions = none',
      '[any_name]', 'commonName = supplied', '',
    ].join('\n'));
    const ca = { name, dir, certFile: join(dir, 'ca.pem'), keyFile: join(dir, 'ca.key') };
    await openssl(['req', '-x509', ...EC, '-keyout', ca.keyFile, '-out', ca.certFile, '-days', '2',
      '-subj', `/CN=ovs-agent test ${name}`], dir);
    return ca;
  }

  /**
   * A certificate for `name` signed by `ca`, usable by servers and clients. `san` as openssl
   * writes it (`IP:127.0.0.1,DNS:localhost`); `expired`: valid only for a day in 2020.
   */
  async leaf(ca: TestCa, name: string, opts: { san?: string; expired?: boolean } = {}): Promise<TestCert> {
    const base = join(this.dir, `${ca.name}-${name}`);
    const out = { certFile: `${base}.pem`, keyFile: `${base}.key` };
    await openssl(['req', ...EC, '-keyout', out.keyFile, '-out', `${base}.csr`, '-subj', `/CN=${name}`], this.dir);
    writeFileSync(`${base}.ext`, [
      'basicConstraints = CA:FALSE',
      'keyUsage = digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth, clientAuth',
      ...(opts.san ? [`subjectAltName = ${opts.san}`] : []),
      '',
    ].join('\n'));
    const validity = opts.expired ? ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z'] : ['-days', '2'];
    await openssl(['ca', '-batch', '-notext', '-config', join(ca.dir, 'ca.cnf'), '-cert', ca.certFile, '-keyfile', ca.keyFile,
      '-in', `${base}.csr`, '-out', out.certFile, '-extfile', `${base}.ext`, ...validity], this.dir);
    return out;
  }

  /** Lines of a PEM file's body (base64), to look for in outputs that must not contain key material. */
  static pemBodyLines(file: string): string[] {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'));
  }

  destroy(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
