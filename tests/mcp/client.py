"""Drives `openv mcp` over stdio with the official MCP Python SDK.

Usage: client.py OPENV_BINARY PROJECT_DIR
The OPENV_HOME of the environment must hold an unlocked vault whose agent runs with
OPENV_PROMPT=none (consent tools are then refused at once). Prints one JSON object
with what was seen, exits non-zero on the first failed expectation.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import Implementation

# The expected tools, from tests/common/mcp.rs (MCP_TOOLS), set by tests/mcp_clients.rs.
TOOLS = json.loads(os.environ["OPENV_TEST_TOOLS"])


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def structured(result):
    if result.is_error:
        fail(f"tool error: {result.content[0].text}")
    # Answers are one text block of JSON.
    return json.loads(result.content[0].text)


async def main(binary, project):
    params = StdioServerParameters(
        command=binary,
        args=["mcp"],
        env={"OPENV_HOME": os.environ["OPENV_HOME"], "OPENV_LOG": "info"},
        cwd=project,
    )
    seen = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(
            read, write, client_info=Implementation(name="python-sdk-client", version="1.0")
        ) as s:
            init = await s.initialize()
            if init.server_info.name != "openv":
                fail(f"server name {init.server_info.name}")
            if "request_variable_values" not in (init.instructions or ""):
                fail("instructions do not mention request_variable_values")
            seen["protocol"] = init.protocol_version

            tools = (await s.list_tools()).tools
            names = [t.name for t in tools]
            if names != TOOLS:
                fail(f"tools/list: {names}")
            for t in tools:
                if t.annotations is None or t.annotations.read_only_hint is None:
                    fail(f"{t.name}: no annotations")
            seen["tools"] = len(tools)

            async def ok(name, args):
                r = structured(await s.call_tool(name, args))
                seen[name] = "ok"
                return r

            async def err(name, args, kind):
                r = await s.call_tool(name, args)
                if not r.is_error:
                    fail(f"{name} {args} should fail")
                got = r.structured_content["error"]["kind"]
                if got != kind or "correlation id" not in r.content[0].text:
                    fail(f"{name}: {got} {r.content[0].text}")
                seen[name] = seen.get(name, "error:" + kind)

            await ok("create_environment", {"name": "py-dev"})
            await ok("rename_environment", {"name": "py-dev", "new_name": "py-app"})
            envs = await ok("list_environments", {})
            if [e["name"] for e in envs["environments"]] != ["py-app"]:
                fail(f"list_environments: {envs}")
            r = await ok("append_variables", {"environment": "py-app", "variables": [
                {"name": "DATABASE_URL"},
                {"name": "TOKEN", "generate": {"length": 40, "charset": "base64url"}},
                {"name": "PUBLIC_NAME", "value": "py-visible-value"},
            ]})
            if r["generated"] != ["TOKEN"] or "py-visible-value" in json.dumps(r):
                fail(f"append_variables: {r}")
            lv = await ok("list_variables", {"environment": "py-app"})
            if sorted(v["name"] for v in lv["variables"]) != ["DATABASE_URL", "PUBLIC_NAME", "TOKEN"]:
                fail(f"list_variables: {lv}")
            # Consent tools: nobody can be asked (OPENV_PROMPT=none), so they are denied.
            await err("request_variable_values", {"environment": "py-app", "names": ["DATABASE_URL"]}, "denied")
            await err("remove_variables", {"environment": "py-app", "names": ["TOKEN"]}, "denied")
            await err("delete_environment", {"name": "py-app"}, "denied")
            await ok("create_local_env_file", {"environment": "py-app", "mountPath": ".", "mode": "fifo"})
            files = await ok("list_local_env_files", {})
            if files["files"][0]["environment"] != "py-app":
                fail(f"list_local_env_files: {files}")
            await ok("remove_local_env_file", {"mountPath": "."})
            with open(os.path.join(project, ".env.legacy"), "w") as f:
                f.write("LEGACY_KEY=py-legacy-value\n")
            imp = await ok("import_env_file", {"environment": "py-app", "path": ".env.legacy"})
            if imp["imported"] != ["LEGACY_KEY"] or "py-legacy-value" in json.dumps(imp):
                fail(f"import_env_file: {imp}")
            with open(os.path.join(project, ".env.example"), "w") as f:
                f.write("DATABASE_URL=\nEXPECTED_ONLY=\n")
            chk = await ok("check_environment", {"environment": "py-app", "path": "."})
            if chk["missing"] != ["EXPECTED_ONLY"]:
                fail(f"check_environment: {chk}")
            h = await ok("get_health_status", {})
            if not h["healthy"]:
                fail(f"get_health_status: {h}")
            mt = await ok("get_metrics", {})
            if mt["client"] != "python-sdk-client":
                fail(f"get_metrics: {mt}")
            await ok("get_security_status", {})
            log = await ok("get_audit_log", {"environment": "py-app", "limit": 100})
            clients = {e.get("client") for e in log["entries"] if e["kind"] == "mcp_call"}
            if clients != {"python-sdk-client"}:
                fail(f"get_audit_log clients: {clients}")
            await err("list_variables", {"environment": "no/such"}, "invalid_input")
            await err("list_variables", {"environment": "missing-env"}, "not_found")

    missing = [t for t in TOOLS if t not in seen]
    if missing:
        fail(f"tools not called: {missing}")
    print(json.dumps(seen, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
