#!/usr/bin/env bash
# Runs the benchmarks in release mode and prints markdown tables for
# docs/performance.md. Figures are measured, never asserted: targets are checked here,
# by a person reading them, not by timed unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "## agent and CLI"
cargo bench --locked --quiet --bench agent 2>/dev/null | grep '^|'

if [ -f mount/benches/open_read.rs ]; then
    echo
    echo "## mount"
    cargo bench --locked --quiet -p openv-mount --bench open_read 2>/dev/null | grep -v '^$'
fi
