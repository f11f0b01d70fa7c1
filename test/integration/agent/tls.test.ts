// The agent with its whole control plane over TLS, as the reference is configured for it: RabbitMQ
// through a TLS listener that requires client certificates ([oslo_messaging_rabbit] ssl*), OVSDB
// over ssl: ([ovs] ssl_*_file). It sets its bridges up and reports state; a wrong OVSDB CA stops it
// with the reason. Every output of the run (the agent's log at DEBUG with its configuration dump,
// `ovs-agent flows`, `--help`, the failed start) is searched for the broker password and for every
// private key: none may appear. No neutron-server: the test answers report_state itself.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PrivateRabbitmq, haveRabbitmq } from '../../helpers/rabbitmq.js';
import { TestPki, type TestCa, type TestCert } from '../../helpers/pki.js';
import { PrivateOvs, haveOvs } from '../../../lab/ovs.js';
import { waitFor } from '../../../lab/neutron.js';
import { AgentProcess, AGENT_BIN } from '../../../lab/agent-process.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { checkoutFile } from '../../../lab/checkout.js';
import { AmqpConnection, RpcServer, type JsonObject } from '../../../src/rpc/index.js';

const run = promisify(execFile);
const skip = !haveRabbitmq() ? 'rabbitmq-server not installed' : !haveOvs() ? 'Open vSwitch not installed' : false;

describe('agent with TLS to RabbitMQ and OVSDB', { skip }, () => {
  let pki: TestPki;
  let ca1: TestCa;
  let ca2: TestCa;
  let brokerCert: TestCert;
  let ovsdbCert: TestCert;
  let agentCert: TestCert;
  let mq: PrivateRabbitmq;
  let ovs: PrivateOvs;
  let conn: AmqpConnection | undefined;
  let reports: RpcServer | undefined;
  const states: JsonObject[] = [];
  const agents: AgentProcess[] = [];
  /** Every text the runs printed, searched for secrets at the end. */
  const outputs: string[] = [];

  function agentFiles(ovsdbCa: string): Record<string, string> {
    const lab = labAgentFiles({
      host: 'tls-host', transportUrl: mq.tlsTransportUrl(), ovsdbConnection: ovs.sslConnection, reportIntervalSec: 2,
      ovs: [`ssl_ca_cert_file = ${ovsdbCa}`, `ssl_cert_file = ${agentCert.certFile}`, `ssl_key_file = ${agentCert.keyFile}`],
    });
    return {
      'neutron.conf': lab['neutron.conf'] + [
        'debug = True',
        '[oslo_messaging_rabbit]', 'ssl = True', `ssl_ca_file = ${ca1.certFile}`,
        `ssl_cert_file = ${agentCert.certFile}`, `ssl_key_file = ${agentCert.keyFile}`, 'ssl_enforce_hostname_verification = True', '',
      ].join('\n'),
      'openvswitch_agent.ini': lab['openvswitch_agent.ini'],
    };
  }

  function startAgent(files: Record<string, string>): AgentProcess {
    const a = new AgentProcess(files, ovs.env);
    agents.push(a);
    return a.start();
  }

  before(async () => {
    pki = TestPki.create();
    ca1 = await pki.ca('ca1');
    ca2 = await pki.ca('ca2');
    brokerCert = await pki.leaf(ca1, 'broker', { san: 'IP:127.0.0.1' });
    ovsdbCert = await pki.leaf(ca1, 'ovsdb', { san: 'IP:127.0.0.1' });
    agentCert = await pki.leaf(ca1, 'agent');
    ovs = await PrivateOvs.start({ ssl: { ...ovsdbCert, caFile: ca1.certFile } });
    mq = await PrivateRabbitmq.start({ tls: { ...brokerCert, caFile: ca1.certFile, requireClientCert: true } });
    // neutron-server's part: answer the agent's heartbeats (over TLS as well, with a certificate of its own).
    const serverCert = await pki.leaf(ca1, 'neutron-server');
    const file = (path: string, option: string) => ({ path, option });
    conn = new AmqpConnection({
      transportUrl: mq.tlsTransportUrl(), purpose: 'test-server',
      tls: { ca: file(ca1.certFile, 'ca'), cert: file(serverCert.certFile, 'cert'), key: file(serverCert.keyFile, 'key'), verifyHostname: true },
    });
    await conn.start();
    reports = await RpcServer.start({
      connection: conn, topic: 'q-reports-plugin', server: 'server',
      endpoints: [{ version: '1.2', methods: { report_state: (_ctx, args) => { states.push(args); return 'alive'; } } }],
    });
  });

  after(async () => {
    try {
      for (const a of agents) {
        await a.stop().catch(() => undefined);
        outputs.push(a.output);
        a.cleanup();
      }
      await reports?.stop();
      await conn?.close();
    } finally {
      const keyLines = [brokerCert, ovsdbCert, agentCert, ca1, ca2].filter((c) => c)
        .flatMap((c) => TestPki.pemBodyLines(c.keyFile));
      await mq?.destroy();
      await ovs?.stop();
      pki?.destroy();
      const text = outputs.join('\n');
      assert.ok(keyLines.length >= 10 && text.length > 1000);
      assert.ok(!text.includes(mq.password), 'the broker password appears in an output');
      assert.ok(!text.includes(encodeURIComponent(mq.password)), 'the encoded broker password appears in an output');
      for (const line of keyLines) assert.ok(!text.includes(line), 'private key material appears in an output');
    }
  });

  test('bridges set up over ssl:, state reported over TLS, debug dump and operator CLI without secrets', async () => {
    const agent = startAgent(agentFiles(ca1.certFile));
    await agent.waitForLog(new RegExp(`Connected to OVSDB at ssl:127\\.0\\.0\\.1:${ovs.sslPort}`), 60_000);
    await agent.waitForLog(/bridges set up/, 60_000);
    const bridges = (await ovs.vsctl('list-br')).split('\n');
    assert.ok(bridges.includes('br-int') && bridges.includes('br-tun'), bridges.join(','));
    assert.ok((await ovs.dumpFlows('br-int')).length > 0);
    await waitFor(() => states.find((s) => JSON.stringify(s).includes('"host":"tls-host"')), 60_000, 'report_state from the agent');
    const state = (states[0]!['agent_state'] as JsonObject)['agent_state'] as JsonObject;
    assert.equal(state['agent_type'], 'Open vSwitch agent');
    await agent.waitForLog(new RegExp(`Connected to AMQP server on amqps://[^ ]*:\\*\\*\\*\\*@127\\.0\\.0\\.1:${mq.tlsPort}/`));
    const conns = JSON.parse(await mq.ctl(['list_connections', '--formatter', 'json', 'ssl', 'peer_cert_subject'])) as Array<{ ssl: boolean; peer_cert_subject: string }>;
    assert.ok(conns.length >= 2 && conns.every((c) => c.ssl), JSON.stringify(conns));
    assert.ok(conns.some((c) => /CN=agent/.test(c.peer_cert_subject)), 'the agent presented its client certificate');
    // The configuration dump at DEBUG shows the URL with the password masked, the key file by its path.
    await agent.waitForLog(new RegExp(`transport_url = rabbit://${encodeURIComponent(mq.user)}:\\*\\*\\*\\*@127\\.0\\.0\\.1:${mq.tlsPort}/`));
    await agent.waitForLog(/oslo_messaging_rabbit\.ssl_key_file = \/.*agent\.key/);

    // The operator CLI reaches OVSDB as the agent does.
    const cfgArgs = ['--config-file', agent.path('neutron.conf'), '--config-file', agent.path('openvswitch_agent.ini')];
    const flows = await run(process.execPath, [checkoutFile('bin/ovs-agent.js'), 'flows', ...cfgArgs, 'br-int'], { env: ovs.env });
    outputs.push(flows.stdout, flows.stderr);
    assert.match(flows.stdout, /=== br-int \(integration bridge\)/);
    const help = await run(process.execPath, [AGENT_BIN, '--help', ...cfgArgs]);
    outputs.push(help.stdout, help.stderr);
    assert.match(help.stdout, /transport_url/);
  });

  test('an OVSDB CA that did not sign ovsdb-server: the agent stops at start with the endpoint and the reason', async () => {
    const agent = startAgent(agentFiles(ca2.certFile));
    assert.equal(await agent.waitExit(60_000), 1);
    assert.match(agent.output, new RegExp(`neutron-openvswitch-agent: cannot reach Open vSwitch's database at \\[ovs\\] ovsdb_connection = ssl:127\\.0\\.0\\.1:${ovs.sslPort}: ` +
      `cannot connect to OVSDB at ssl:127\\.0\\.0\\.1:${ovs.sslPort}: TLS: the server's certificate is not signed by a CA in \\[ovs\\] ssl_ca_cert_file ${ca2.certFile.replace(/\./g, '\\.')} \\([A-Z_]+\\)\\.\\n`));
  });
});
