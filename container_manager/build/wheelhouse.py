"""Wheels built on the host for the processor image, so the image build never needs an index.

pip inside a container may not reach PyPI (proxies, TLS interception, no network), so the host
builds every wheel into `build/wheelhouse/` and the Dockerfile installs them with
`pip install --no-index`. Two directories, two caches:

- `deps/`: the dependency wheels plus `requirements.txt`. Rebuilt only when the dependency list
  in pyproject.toml (or the host Python) changes, tracked by the `.stamp` file.
- `project/`: the single project wheel. Rebuilt only when a source file or pyproject.toml
  changes, so an unchanged tree leaves the file untouched and Docker's layer cache holds.

A stamp is written only after its step succeeded, so an interrupted build redoes the step.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PACKAGES",
    "STAMP",
    "Runner",
    "Wheelhouse",
    "WheelhouseResult",
    "ensure_wheelhouse",
    "project_fingerprint",
    "requirements_fingerprint",
]

PACKAGES = ("kato", "session_manager", "container_manager", "cli")
"""Top-level packages shipped in the project wheel (pyproject's packages.find include)."""

STAMP = ".stamp"
PIP_QUIET = ("--progress-bar", "off", "--disable-pip-version-check")

Runner = Callable[[Sequence[str]], None]
"""Runs one command to completion; raises when it fails (the image builder streams its output)."""


@dataclass(frozen=True)
class Wheelhouse:
    """Where the wheels of a build context live: `<context>/build/wheelhouse/{deps,project}`."""

    context: Path

    @property
    def root(self) -> Path:
        return self.context / "build" / "wheelhouse"

    @property
    def deps(self) -> Path:
        return self.root / "deps"

    @property
    def project(self) -> Path:
        return self.root / "project"


@dataclass(frozen=True)
class WheelhouseResult:
    """Which halves of the wheelhouse were reused as they were (True) or rebuilt (False)."""

    deps_cached: bool
    project_cached: bool


def dependencies(pyproject: Path) -> list[str]:
    """The `[project] dependencies` of a pyproject.toml, in file order."""
    with pyproject.open("rb") as handle:
        return list(tomllib.load(handle)["project"].get("dependencies", []))


def requirements_fingerprint(requirements: Sequence[str]) -> str:
    """Identifies the dependency wheel set: the requirement lines and the host Python version."""
    digest = hashlib.sha256(f"python{sys.version_info.major}.{sys.version_info.minor}".encode())
    for line in requirements:
        digest.update(b"\0" + line.encode())
    return digest.hexdigest()


def project_fingerprint(context: Path) -> str:
    """Identifies the project wheel: every file of the shipped packages plus pyproject.toml."""
    digest = hashlib.sha256()
    for path in _source_files(context):
        digest.update(str(path.relative_to(context)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def ensure_wheelhouse(
    context: Path,
    run: Runner,
    *,
    pip: Sequence[str] = (sys.executable, "-m", "pip"),
) -> WheelhouseResult:
    """Bring `<context>/build/wheelhouse` up to date, running pip through `run` only as needed."""
    house = Wheelhouse(context)
    requirements = dependencies(context / "pyproject.toml")
    deps_cached = _ensure(
        house.deps,
        requirements_fingerprint(requirements),
        lambda: _build_deps(house.deps, requirements, run, pip),
    )
    project_cached = _ensure(
        house.project,
        project_fingerprint(context),
        lambda: _build_project(house.project, context, run, pip),
    )
    return WheelhouseResult(deps_cached=deps_cached, project_cached=project_cached)


def _ensure(directory: Path, fingerprint: str, build: Callable[[], None]) -> bool:
    """Run `build` into an emptied `directory` unless its stamp says `fingerprint`; True if kept."""
    stamp = directory / STAMP
    if stamp.is_file() and stamp.read_text().strip() == fingerprint:
        return True
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    build()
    stamp.write_text(fingerprint + "\n")
    return False


def _build_deps(
    directory: Path, requirements: Sequence[str], run: Runner, pip: Sequence[str]
) -> None:
    requirements_file = directory / "requirements.txt"
    requirements_file.write_text("".join(f"{line}\n" for line in requirements))
    run([*pip, "wheel", *PIP_QUIET, "--wheel-dir", str(directory), "-r", str(requirements_file)])


def _build_project(directory: Path, context: Path, run: Runner, pip: Sequence[str]) -> None:
    # setuptools stages sources in build/lib and would ship modules deleted since the last build.
    shutil.rmtree(context / "build" / "lib", ignore_errors=True)
    run([*pip, "wheel", *PIP_QUIET, "--no-deps", "--wheel-dir", str(directory), str(context)])


def _source_files(context: Path) -> Iterable[Path]:
    files = [context / "pyproject.toml"]
    for package in PACKAGES:
        files += (
            path
            for path in (context / package).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        )
    return sorted(files)
