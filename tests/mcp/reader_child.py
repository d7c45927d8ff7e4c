"""An MCP client that also starts a reader, as an AI agent does with its shell tool.

Usage: reader_child.py OPENV_BINARY PROJECT_DIR ENV_FILE
Opens an `openv mcp` session with the official MCP Python SDK, calls one tool (so the
server has greeted the agent), then runs `cat ENV_FILE` as its own child. Prints one JSON
object: the tool call's success, cat's exit code and output.
"""

import asyncio
import json
import os
import subprocess
import sys

from mcp import ClientSession, StdioServerParameters, stdio_client


async def main(binary, project, env_file):
    params = StdioServerParameters(
        command=binary,
        args=["mcp"],
        env={"OPENV_HOME": os.environ["OPENV_HOME"]},
        cwd=project,
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            listed = await session.call_tool("list_environments", {})
            cat = subprocess.run(["cat", env_file], capture_output=True, text=True, timeout=30)
            print(
                json.dumps(
                    {
                        "tool_ok": not listed.is_error,
                        "cat_rc": cat.returncode,
                        "cat_out": cat.stdout,
                        "cat_err": cat.stderr,
                    }
                )
            )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
