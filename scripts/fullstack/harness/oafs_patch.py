"""What neutron's fullstack framework needs changed to run on these machines.

Imported by the test runner (oafs_run.py) and by the agent wrappers in
../agents, which the framework starts as separate processes. Every change is
a monkeypatch at import time; nothing installed is modified.

Environment:
  OAFS_ROOT      scripts/fullstack (holds agents/ and servers/)
  OAFS_AGENT     'ours' swaps ovs-agent in for the reference Open vSwitch agent
  OAFS_AGENT_OPTS  'section.option=value,...' added to every Open vSwitch
                 agent's openvswitch_agent.ini (e.g. ovs.of_interface=ovs-ofctl)
"""
import os
import subprocess
import time

# No Open vSwitch kernel module here: every bridge uses the userspace datapath.
DATAPATH = 'netdev'
ROOT = os.environ.get('OAFS_ROOT') or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))
# One shared bridge whose LOCAL port carries every host's tunnel address
# (see tunnel_underlay below).
UNDERLAY = 'oafs-ul'


def netdev_bridges():
    """Bridges created through ovs_lib default to the userspace datapath."""
    from neutron.agent.common import ovs_lib
    ovs_lib.BaseOVS.add_bridge.__defaults__ = (DATAPATH,)
    ovs_lib.OVSBridge.__init__.__defaults__ = (DATAPATH,)


def _agent_options():
    opts = {}
    if os.environ.get('OAFS_AGENT') == 'ours':
        # All hosts share one Open vSwitch: tunnel ports must be named by both
        # ends, as neutron's own test agent names them.
        opts[('agent', 'tunnel_port_naming')] = 'local-and-remote-ip'
    for item in filter(None, os.environ.get('OAFS_AGENT_OPTS', '').split(',')):
        key, sep, value = item.partition('=')
        section, dot, option = key.partition('.')
        if not sep or not dot or not section or not option:
            raise ValueError('OAFS_AGENT_OPTS: %r is not section.option=value'
                             % item)
        opts[(section, option)] = value
    return opts


def framework():
    """Patch the framework in the test process."""
    netdev_bridges()
    from neutron.tests.fullstack import base as fs_base
    from neutron.tests.fullstack.resources import config as fs_config

    # The framework starts agents/<name>.py and servers/placement.py from
    # ROOTDIR; Debian ships them without the executable bit, and ours decide
    # which Open vSwitch agent runs.
    fs_base.ROOTDIR = ROOT

    # The sample api-paste.ini and policy.yaml are in neutron's source tree,
    # not in the package: use the installed api-paste.ini, default policy.
    fs_config.NeutronConfigFixture._generate_api_paste = (
        lambda self: '/etc/neutron/api-paste.ini')
    fs_config.NeutronConfigFixture._generate_policy_yaml = lambda self: None

    neutron_init = fs_config.NeutronConfigFixture.__init__

    def neutron_config(self, *args, **kwargs):
        neutron_init(self, *args, **kwargs)
        self.config['DEFAULT']['bind_host'] = '127.0.0.1'
    fs_config.NeutronConfigFixture.__init__ = neutron_config

    agent_opts = _agent_options()
    ovs_init = fs_config.OVSConfigFixture.__init__

    def ovs_config(self, *args, **kwargs):
        ovs_init(self, *args, **kwargs)
        self.config['ovs']['datapath_type'] = DATAPATH
        for (section, option), value in agent_opts.items():
            self.config.setdefault(section, {})[option] = value
    fs_config.OVSConfigFixture.__init__ = ovs_config

    veth_checksums()
    tunnel_underlay()
    sctp_if_supported()


def veth_checksums():
    """Userspace forwarding of veth frames leaves TCP/UDP checksums to a NIC
    that does not exist, and the receiver drops them (ICMP still passes).
    Every veth the fixtures create gets transmit checksum offload off."""
    from neutron.tests.common import net_helpers

    def offload_off(ports):
        for port in ports:
            cmd = ['ethtool', '-K', port.name, 'tx', 'off']
            if port.namespace:
                cmd = ['ip', 'netns', 'exec', port.namespace] + cmd
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    for fixture in (net_helpers.VethFixture, net_helpers.NamedVethFixture):
        set_up = fixture.__dict__['_setUp']

        def _setUp(self, set_up=set_up):
            set_up(self)
            offload_off(self.ports)
        fixture._setUp = _setUp


def _run(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _vswitchd_control_socket():
    # ovs-appctl finds ovs-vswitchd by its pidfile and checks that the pid
    # is alive; each test runs in a pid namespace of its own where that pid
    # does not exist, so name the control socket instead.
    rundir = os.environ['OVS_RUNDIR']
    with open(os.path.join(rundir, 'ovs-vswitchd.pid')) as f:
        pid = f.read().strip()
    return os.path.join(rundir, 'ovs-vswitchd.%s.ctl' % pid)


def tunnel_underlay():
    """Tunnels on the userspace datapath.

    The framework puts each host's local_ip on a veth outside Open vSwitch;
    userspace tunnelling finds no bridge to route it through. Here every
    local_ip sits on the LOCAL port of one shared bridge; what a tunnel sends
    out of LOCAL is sent back in (in_port), where Open vSwitch decapsulates it
    for the tunnel port matching its (local, remote) addresses. The kernel
    does not answer ARP for its own addresses, so the tunnel neighbour table
    is filled by hand.
    """
    from neutron.agent.common import ovs_lib
    from neutron.tests.fullstack.resources import environment as fs_env

    def attach(local_ip):
        ovs_lib.BaseOVS().add_bridge(UNDERLAY)
        _run('ip', 'link', 'set', UNDERLAY, 'up')
        _run('ip', 'addr', 'replace', local_ip + '/32', 'dev', UNDERLAY)
        for match in ('udp,tp_dst=4789', 'udp,tp_dst=6081', 'ip,nw_proto=47'):
            _run('ovs-ofctl', 'add-flow', UNDERLAY,
                 'priority=10,in_port=LOCAL,%s,actions=in_port' % match)
        # ovs-vswitchd learns the new address from netlink a moment later;
        # a neighbour set before that is refused.
        time.sleep(0.5)
        with open('/sys/class/net/%s/address' % UNDERLAY) as f:
            mac = f.read().strip()
        shown = subprocess.run(['ip', '-4', '-o', 'addr', 'show', 'dev',
                                UNDERLAY], check=True, capture_output=True,
                               text=True).stdout
        for line in shown.splitlines():
            address = line.split()[3].split('/')[0]
            _run('ovs-appctl', '-t', _vswitchd_control_socket(),
                 'tnl/neigh/set', UNDERLAY, address, mac)

    def connect_to_central_network_via_tunneling(self):
        attach(self.local_ip)
        self.addCleanup(subprocess.run, ['ip', 'addr', 'del',
                                         self.local_ip + '/32', 'dev',
                                         UNDERLAY], check=False)
    fs_env.Host.connect_to_central_network_via_tunneling = (
        connect_to_central_network_via_tunneling)


def sctp_if_supported():
    """test_securitygroup checks SCTP with ncat; without SCTP in the kernel
    that step fails whatever the agent does. Then (only then) the SCTP
    checks are skipped, each with a warning in the test's log."""
    import socket
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM,
                      socket.IPPROTO_SCTP).close()
        return
    except OSError:
        pass
    from oslo_log import log as logging
    from neutron.tests.common import net_helpers
    from neutron.tests.fullstack import test_securitygroup
    log = logging.getLogger(__name__)
    cls = test_securitygroup.BaseSecurityGroupsSameNetworkTest

    def skipping_sctp(name, check):
        def wrapped(self, *args, **kwargs):
            protocol = args[4] if len(args) > 4 else kwargs.get('protocol')
            if protocol == net_helpers.NetcatTester.SCTP:
                log.warning('%s over SCTP skipped: this kernel has no SCTP',
                            name)
                return None
            return check(self, *args, **kwargs)
        return wrapped
    for name in ('assert_connection', 'assert_no_connection'):
        setattr(cls, name, skipping_sctp(name, cls.__dict__[name]))
