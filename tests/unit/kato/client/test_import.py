"""`kato.client` needs httpx and websockets only: importing it loads no server code."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("fastapi", "starlette", "docker", "pydantic", "kato.processor", "kato.services",
             "session_manager", "container_manager", "aiohttp", "numpy")  # fmt: skip


def test_importing_the_client_loads_nothing_heavy() -> None:
    code = "import json, sys; import kato.client; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", code]))
    assert "kato.client" in loaded and "httpx" in loaded and "websockets" in loaded
    heavy = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert heavy == []
