"""scripts/unasync.py: the sync client is the async one rewritten, and `--check` (run by
`make lint`) fails when the generated package is not current."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "unasync.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


unasync = _script()


def test_the_generated_sync_client_is_current() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_check_fails_on_a_stale_file_and_a_run_makes_it_current(tmp_path: Path) -> None:
    source, generated = tmp_path / "_async", tmp_path / "_sync"
    shutil.copytree(unasync.SOURCE, source)
    shutil.copytree(unasync.GENERATED, generated)
    assert unasync.main(["--check"], source, generated) == 0
    http = source / "http.py"
    http.write_text(http.read_text().replace("waiting 1 s", "waiting one second"))
    assert unasync.main(["--check"], source, generated) == 1
    assert "one second" not in (generated / "http.py").read_text()  # --check writes nothing
    assert unasync.main([], source, generated) == 0
    assert "one second" in (generated / "http.py").read_text()
    assert unasync.main(["--check"], source, generated) == 0
    (generated / "orphan.py").write_text("# its source was removed\n")
    assert unasync.main(["--check"], source, generated) == 1
    assert unasync.main([], source, generated) == 0
    assert not (generated / "orphan.py").exists()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("async def f(self) -> AsyncIterator[bytes]:", "def f(self) -> Iterator[bytes]:"),
        ("    async with http.stream() as r:", "    with http.stream() as r:"),
        ("    async for line in r.aiter_lines():", "    for line in r.iter_lines():"),
        ("    return await self._call(x)", "    return self._call(x)"),
        ("    await response.aread(); await r.aclose()", "    response.read(); r.close()"),
        ("async def __aenter__(self) -> AsyncSession:", "def __enter__(self) -> Session:"),
        ("except StopAsyncIteration:", "except StopIteration:"),
        ("import asyncio", "import time"),
        ("    await asyncio.sleep(1.0)", "    time.sleep(1.0)"),
        ("httpx.AsyncClient | httpx.AsyncBaseTransport", "httpx.Client | httpx.BaseTransport"),
        ("import websockets.asyncio.client as ws", "import websockets.sync.client as ws"),
        ("    ) -> NewSession[AsyncSession]:  # unasync: ) -> Session:", "    ) -> Session:"),
        ("from .._new_session import NewSession  # unasync: drop", None),
    ],
)  # fmt: skip
def test_the_rewrite_of_one_line(line: str, expected: str | None) -> None:
    assert unasync.unasync_line(line) == expected


def test_what_the_rules_do_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="still async"):
        unasync.unasync("x = asyncio.gather(a, b)\n", "bad.py")
