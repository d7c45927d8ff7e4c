"""docker-compose's env_file reader on DIR/.env: `docker-compose config` (no engine
needed) resolves a service whose env_file is that file; prints the named variables as
JSON, as the container would get them (`$$` in the printed config is a literal `$`).

usage: compose_reader.py DIR NAME...
"""
import json
import os
import subprocess
import sys
import tempfile

import yaml

env_dir, names = sys.argv[1], sys.argv[2:]
with tempfile.TemporaryDirectory() as project:
    compose = os.path.join(project, "compose.yml")
    with open(compose, "w") as f:
        yaml.safe_dump(
            {
                "version": "3",
                "services": {
                    "app": {"image": "none", "env_file": [os.path.join(env_dir, ".env")]}
                },
            },
            f,
        )
    # The project directory has no .env of its own: only env_file is read.
    out = subprocess.run(
        ["docker-compose", "--project-directory", project, "-f", compose, "config"],
        capture_output=True,
        text=True,
    )
if out.returncode != 0:
    sys.exit(out.stderr.strip())
env = yaml.safe_load(out.stdout)["services"]["app"].get("environment") or {}
got = {k: (v or "").replace("$$", "$") for k, v in env.items()}
print(json.dumps({n: got[n] for n in names if n in got}))
