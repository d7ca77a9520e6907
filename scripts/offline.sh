#!/usr/bin/env bash
# Runs a command with no network but loopback: a network namespace of its own (root and unshare(1) needed),
# to prove that what it runs needs nothing from outside. Without them it says so and runs the command as is.
set -euo pipefail
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1; then
  echo "offline: running '$*' with loopback only (unshare --net)"
  exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' offline "$@"
fi
echo "offline: cannot make a network namespace here (needs root, unshare and ip): running '$*' with the network"
exec "$@"
