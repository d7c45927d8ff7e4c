#!/usr/bin/env bash
# The main job on a throwaway vault: build openv, create a vault protected by a key
# file in a temporary OPENV_HOME, create an environment, declare and set variables,
# list names (never values), mount the environment as a virtual .env, read it with an
# allowed reader and watch an unapproved one be denied. Nothing outside the temporary
# directory is touched.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> building openv"
cargo build --locked --quiet --bin openv
openv() { "$PWD/target/debug/openv" "$@"; }

tmp=$(mktemp -d)
export OPENV_HOME="$tmp/openv-home"
# Nobody is asked in this walk-through: what no rule allows is denied at once. In real
# use (OPENV_PROMPT=auto, the default) a dialog on your desktop or terminal asks instead.
export OPENV_PROMPT=none
cleanup() { openv agent stop >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
step() { printf '\n==> %s\n' "$*"; }

step "openv init --keyfile (a throwaway vault in $OPENV_HOME)"
openv init --keyfile "$tmp/vault.key"

step "openv env create myapp-dev"
openv env create myapp-dev

step "openv var add: an agent declares the names it needs"
openv var add -e myapp-dev DATABASE_URL API_KEY SENTRY_DSN

step "openv var set: the human supplies values on stdin (never on the command line)"
printf 'postgres://app:s3cr%%t@localhost:5432/app' | openv var set -e myapp-dev DATABASE_URL
head -c 24 /dev/urandom | base64 | openv var set -e myapp-dev API_KEY

step "openv var list: names, set or unset, last change; values are never shown"
openv var list -e myapp-dev

step "openv env list"
openv env list

step "openv lock: names stay listable, values are sealed"
openv lock
openv var list -e myapp-dev --json | head -8
openv verify || true

step "openv unlock --keyfile, then verify every value decrypts in place"
openv unlock --keyfile "$tmp/vault.key"
openv verify

step "openv mount: the project's .env becomes a virtual file (FUSE, or a FIFO without FUSE)"
project="$tmp/myapp"
mkdir -p "$project"
# An allow rule widens access, so it needs the human: here the key file is the proof.
openv allow -e myapp-dev --exe cat --keyfile "$tmp/vault.key"
openv mount "$project" -e myapp-dev
ls -la "$project"

step "an allowed reader (cat) gets the rendered .env"
cat "$project/.env" | sed -E 's/=.{6}.*/=<value hidden by the quickstart>/'

step "a reader nobody allowed (head) is denied (with prompts on, you would be asked)"
if head -c 200 "$project/.env" >/dev/null 2>"$tmp/denied.txt"; then
    echo "unexpected: head read the file"; exit 1
fi
cat "$tmp/denied.txt"

step "openv mounts"
openv mounts

step "openv unmount: nothing is left behind"
openv unmount "$project"
ls -la "$project"

step "openv status"
openv status

echo
echo "quickstart done: the throwaway vault is removed on exit"
