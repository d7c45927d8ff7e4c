#!/usr/bin/env bash
# direnv's dotenv parser (what `dotenv` in an .envrc runs) on FILE: `direnv dotenv bash`
# prints it as shell exports; prints the named variables as JSON.
# usage: direnv_reader.sh FILE NAME...
set -euo pipefail
file=$1
shift
exports=$(direnv dotenv bash "$file")
eval "$exports"
exec python3 -c 'import json, os, sys; print(json.dumps({n: os.environ[n] for n in sys.argv[1:] if n in os.environ}))' "$@"
