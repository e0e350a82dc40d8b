"""Wheelhouse caching: which pip runs happen, and when the stamps let a build skip them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from container_manager.build.wheelhouse import (
    STAMP,
    Wheelhouse,
    ensure_wheelhouse,
    project_fingerprint,
)

PYPROJECT = """\
[project]
name = "demo"
version = "0.1.0"
dependencies = ["fastapi>=0.110", "numpy>=1.26"]
"""


class FakePip:
    """Records pip commands and drops a fake wheel into --wheel-dir, like `pip wheel` would."""

    def __init__(self, fail: bool = False) -> None:
        self.commands: list[list[str]] = []
        self.fail = fail

    def __call__(self, command: Sequence[str]) -> None:
        self.commands.append(list(command))
        if self.fail:
            raise RuntimeError("pip failed")
        wheel_dir = Path(command[command.index("--wheel-dir") + 1])
        name = "demo-0.1.0-py3-none-any.whl" if "--no-deps" in command else "numpy-2-cp311.whl"
        (wheel_dir / name).write_bytes(b"wheel")

    @property
    def deps_runs(self) -> int:
        return sum("--no-deps" not in command for command in self.commands)

    @property
    def project_runs(self) -> int:
        return sum("--no-deps" in command for command in self.commands)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    for package in ("kato", "cli"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(f"NAME = {package!r}\n")
    return tmp_path


def test_first_run_builds_both_halves_and_writes_requirements(context: Path) -> None:
    pip = FakePip()
    result = ensure_wheelhouse(context, pip, pip=["pip"])

    assert (result.deps_cached, result.project_cached) == (False, False)
    assert (pip.deps_runs, pip.project_runs) == (1, 1)
    house = Wheelhouse(context)
    assert (house.deps / "requirements.txt").read_text() == "fastapi>=0.110\nnumpy>=1.26\n"
    assert (house.deps / STAMP).is_file() and (house.project / STAMP).is_file()
    assert pip.commands[1][-1] == str(context)


def test_second_run_with_nothing_changed_runs_no_pip(context: Path) -> None:
    ensure_wheelhouse(context, FakePip(), pip=["pip"])
    pip = FakePip()
    result = ensure_wheelhouse(context, pip, pip=["pip"])

    assert (result.deps_cached, result.project_cached) == (True, True)
    assert pip.commands == []


def test_source_change_rebuilds_only_the_project_wheel(context: Path) -> None:
    ensure_wheelhouse(context, FakePip(), pip=["pip"])
    (context / "kato" / "engine.py").write_text("X = 1\n")
    pip = FakePip()
    result = ensure_wheelhouse(context, pip, pip=["pip"])

    assert (result.deps_cached, result.project_cached) == (True, False)
    assert (pip.deps_runs, pip.project_runs) == (0, 1)


def test_dependency_change_rebuilds_both(context: Path) -> None:
    ensure_wheelhouse(context, FakePip(), pip=["pip"])
    pyproject = context / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"numpy>=1.26"', '"numpy>=2"'))
    pip = FakePip()
    result = ensure_wheelhouse(context, pip, pip=["pip"])

    assert (result.deps_cached, result.project_cached) == (False, False)
    assert "numpy>=2" in (Wheelhouse(context).deps / "requirements.txt").read_text()


def test_pyproject_change_outside_dependencies_keeps_dependency_wheels(context: Path) -> None:
    ensure_wheelhouse(context, FakePip(), pip=["pip"])
    pyproject = context / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"', 'version = "0.2.0"'))
    result = ensure_wheelhouse(context, FakePip(), pip=["pip"])

    assert (result.deps_cached, result.project_cached) == (True, False)


def test_rebuild_empties_the_directory_first(context: Path) -> None:
    ensure_wheelhouse(context, FakePip(), pip=["pip"])
    stale = Wheelhouse(context).project / "demo-0.0.9-py3-none-any.whl"
    stale.write_bytes(b"old")
    (context / "cli" / "__init__.py").write_text("NAME = 'changed'\n")
    ensure_wheelhouse(context, FakePip(), pip=["pip"])

    assert not stale.exists()
    assert [p.name for p in Wheelhouse(context).project.glob("*.whl")] == [
        "demo-0.1.0-py3-none-any.whl"
    ]


def test_failed_build_leaves_no_stamp_so_the_next_run_retries(context: Path) -> None:
    with pytest.raises(RuntimeError):
        ensure_wheelhouse(context, FakePip(fail=True), pip=["pip"])
    assert not (Wheelhouse(context).deps / STAMP).exists()

    pip = FakePip()
    result = ensure_wheelhouse(context, pip, pip=["pip"])
    assert not result.deps_cached
    assert pip.deps_runs == 1


def test_bytecode_does_not_change_the_project_fingerprint(context: Path) -> None:
    before = project_fingerprint(context)
    cache = context / "kato" / "__pycache__"
    cache.mkdir()
    (cache / "__init__.cpython-311.pyc").write_bytes(b"\x00")

    assert project_fingerprint(context) == before


def test_a_renamed_file_changes_the_project_fingerprint(context: Path) -> None:
    before = project_fingerprint(context)
    (context / "kato" / "__init__.py").rename(context / "kato" / "core.py")

    assert project_fingerprint(context) != before
