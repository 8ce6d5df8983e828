"""The command the conformance suite runs as "the client": ``ostiary call URL test-tool``.

The suite appends the MCP URL and sets ``MCP_CONFORMANCE_SCENARIO`` and, for the scenarios
with credentials, ``MCP_CONFORMANCE_CONTEXT`` (JSON). This script only turns that context
into ``ostiary`` options, as a person would type them, and runs the real command line with
a fresh credential folder. Its mock authorization server approves by itself, so the browser
step is ``--browser follow``. Usage: ``conformance_client.py URL``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

OSTIARY = str(Path(sys.executable).parent / "ostiary")
CIMD_URL = "https://conformance-test.local/client-metadata.json"


def options(context: dict[str, object], folder: Path) -> list[str]:
    args = ["--browser", "follow", "--client-metadata-url", CIMD_URL]
    client_id = context.get("client_id")
    if isinstance(client_id, str):
        args += ["--client-id", client_id]
    secret = context.get("client_secret")
    if isinstance(secret, str):
        path = folder / "client.secret"
        path.write_text(secret)
        args += ["--client-secret-file", str(path)]
    key = context.get("private_key_pem")
    if isinstance(key, str):
        path = folder / "client.key"
        path.write_text(key)
        args += ["--client-key-file", str(path)]
        args += ["--client-key-alg", str(context.get("signing_algorithm") or "ES256")]
    id_token = context.get("idp_id_token")
    if isinstance(id_token, str):
        path = folder / "idp.id_token"
        path.write_text(id_token)
        args += ["--id-token-file", str(path)]
        for name in ("idp_token_endpoint", "idp_client_id"):
            if isinstance(context.get(name), str):
                args += ["--" + name.replace("_", "-"), str(context[name])]
    idp_secret = context.get("idp_client_secret")
    if isinstance(idp_secret, str):
        path = folder / "idp.secret"
        path.write_text(idp_secret)
        args += ["--idp-client-secret-file", str(path)]
    if str(context.get("name", "")).startswith("auth/client-credentials"):
        args.append("--client-credentials")
    return args


def main() -> int:
    url = sys.argv[-1]
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        env = {**os.environ, "OSTIARY_CLIENT_STORE": "file", "OSTIARY_CLIENT_DIR": str(folder)}
        command = [OSTIARY, "call", url, "test-tool", *options(context, folder)]
        return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
