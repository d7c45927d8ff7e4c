"""`openv mcp` confined to the project, driven by the official MCP Python SDK.

Usage: confine.py OPENV_BINARY PROJECT_DIR
The server is started in `/` (no project, as desktop clients start it) and this client
sends PROJECT_DIR as its only MCP root. The OPENV_HOME of the environment holds an
unlocked vault with an environment `dev`, agent with OPENV_PROMPT=none. PROJECT_DIR
holds `settings.sh` and `main.py`. Prints one JSON object with what was seen, exits
non-zero on the first failed expectation.
"""

import asyncio
import json
import os
import pathlib
import sys

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp import types
from mcp.types import Implementation


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


async def main(binary, project):
    params = StdioServerParameters(
        command=binary,
        args=["mcp"],
        env={"OPENV_HOME": os.environ["OPENV_HOME"], "OPENV_LOG": "info"},
        cwd="/",
    )
    root_uri = pathlib.Path(project).as_uri()
    asked = []

    async def list_roots(_context):
        asked.append(True)
        return types.ListRootsResult(roots=[types.Root(uri=root_uri, name="project")])

    seen = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(
            read,
            write,
            list_roots_callback=list_roots,
            client_info=Implementation(name="python-sdk-roots", version="1.0"),
        ) as s:
            await s.initialize()

            async def ok(name, args):
                r = await s.call_tool(name, args)
                if r.is_error:
                    fail(f"{name} {args}: {r.content[0].text}")
                return json.loads(r.content[0].text)

            async def refused(name, args, kind, says):
                r = await s.call_tool(name, args)
                if not r.is_error:
                    fail(f"{name} {args} should be refused")
                got = r.structured_content["error"]["kind"]
                text = r.content[0].text
                if got != kind or says not in text:
                    fail(f"{name} {args}: {got} {text}")
                seen[f"{name} {json.dumps(args, sort_keys=True)}"] = got

            # Row 6: replacing a script with a mount is refused before anyone is asked.
            await refused(
                "import_env_file",
                {"environment": "dev", "path": "settings.sh", "replace_with_mount": True},
                "invalid_input",
                "openv mount --import -e dev",
            )
            # Row 7: a project file, and places outside the project.
            await refused(
                "create_local_env_file",
                {"environment": "dev", "mountPath": "main.py"},
                "invalid_input",
                "openv mount -e dev",
            )
            await refused(
                "import_env_file",
                {"environment": "dev", "path": "/etc/passwd"},
                "outside_project",
                "openv import -e dev",
            )
            await refused(
                "check_environment",
                {"environment": "dev", "path": "/etc"},
                "outside_project",
                "the user starts openv mcp in it",
            )
            # The project is the client's root: relative paths start there.
            m = await ok("create_local_env_file", {"environment": "dev", "mountPath": ".", "mode": "fifo"})
            want = os.path.join(os.path.realpath(project), ".env")
            if m["path"] != want:
                fail(f"mounted at {m['path']}, not {want}")
            await ok("remove_local_env_file", {"mountPath": "."})
            chk = await ok("check_environment", {"environment": "dev"})
            if chk["path"] != os.path.realpath(project):
                fail(f"check_environment scanned {chk['path']}")
            seen["mounted"] = m["path"]
            seen["scanned"] = chk["path"]

    if not asked:
        fail("the server never asked for the roots")
    print(json.dumps(seen, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
