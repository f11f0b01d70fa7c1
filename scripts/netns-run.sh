#!/bin/sh
# Run a command in a private network namespace with only loopback up.
# Each userspace-datapath ovs-vswitchd creates tap devices named after the datapath ("ovs-netdev")
# and its bridges, so two of them cannot share a network namespace; tests that start their own
# OVS run in their own namespace, where 127.0.0.1 is theirs too.
exec unshare -n sh -c 'ip link set lo up && exec "$@"' netns-run "$@"
