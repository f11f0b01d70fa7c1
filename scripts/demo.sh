#!/usr/bin/env bash
# The main job, set up and run from a clean checkout (as root, Debian 12, Node 20):
# installs Open vSwitch, RabbitMQ, MariaDB and neutron-server from Debian, builds the agent,
# and runs demo/main.ts in a private network namespace (everything listens on 127.0.0.1 there).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/lab/install.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
exec scripts/netns-run.sh node dist/demo/main.js
