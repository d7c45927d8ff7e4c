"""Reads a .env the way a Python app does and prints what it got as JSON.

usage: python_reader.py values|load|pydantic FILE NAME...
"""
import json
import os
import sys

mode, path, names = sys.argv[1], sys.argv[2], sys.argv[3:]
if mode == "values":
    import dotenv

    got = dotenv.dotenv_values(path)
elif mode == "load":
    import dotenv

    dotenv.load_dotenv(path, override=True)
    got = {n: os.environ[n] for n in names if n in os.environ}
elif mode == "pydantic":
    from pydantic import create_model
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Base(BaseSettings):
        model_config = SettingsConfigDict(
            env_file=path, case_sensitive=True, extra="ignore"
        )

    Model = create_model("Env", __base__=Base, **{n: (str | None, None) for n in names})
    got = {n: v for n, v in Model().model_dump().items() if v is not None}
else:
    sys.exit(f"unknown mode {mode}")
print(json.dumps({n: got[n] for n in names if n in got and got[n] is not None}))
