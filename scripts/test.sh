#!/usr/bin/env bash
# Installs what the tests need when it is missing (apt, pip, npm), then runs the whole
# suite: formatting, lints, unit and integration tests (real agent, real FUSE mounts,
# real dotenv readers).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- system packages -------------------------------------------------------------
need=()
command -v fusermount3 >/dev/null || need+=(fuse3)
command -v runuser >/dev/null || need+=(util-linux)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
    echo "test.sh: installing ${need[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- real .env readers ------------------------------------------------------------
python3 -c 'import dotenv' 2>/dev/null || {
    echo "test.sh: installing python-dotenv"
    python3 -m pip install -q -r tests/requirements.txt
}
if [ ! -d tests/js/node_modules/dotenv ]; then
    echo "test.sh: installing node dotenv"
    (cd tests/js && npm install --no-audit --no-fund --silent)
fi

# --- Rust tooling -----------------------------------------------------------------
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --locked --no-fail-fast "$@"
