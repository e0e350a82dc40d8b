"""The import budget: the cgroup's free memory over the measured factor, capped by the setting."""

from __future__ import annotations

from pathlib import Path

from kato.services.import_budget import IMPORT_RSS_FACTOR, import_budget

MIB = 2**20


def _cgroup(tmp_path: Path, limit: str, used: int) -> Path:
    (tmp_path / "memory.max").write_text(limit + "\n")
    (tmp_path / "memory.current").write_text(f"{used}\n")
    return tmp_path


def test_a_512_mib_container_refuses_what_it_cannot_hold(tmp_path: Path) -> None:
    cgroup = _cgroup(tmp_path, str(512 * MIB), 64 * MIB)
    budget = import_budget(256 * MIB, cgroup)
    assert budget == 448 * MIB // IMPORT_RSS_FACTOR
    assert budget * IMPORT_RSS_FACTOR <= 448 * MIB


def test_the_setting_caps_it_and_no_cgroup_limit_leaves_the_setting(tmp_path: Path) -> None:
    assert import_budget(MIB, _cgroup(tmp_path, str(64 * 2**30), 0)) == MIB
    assert import_budget(MIB, _cgroup(tmp_path, "max", 0)) == MIB
    assert import_budget(MIB, tmp_path / "absent") == MIB
    assert import_budget(MIB, _cgroup(tmp_path, str(MIB), 2 * MIB)) == 0


def test_cgroup_v1_files_are_read_too(tmp_path: Path) -> None:
    (tmp_path / "memory").mkdir()
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text(f"{128 * MIB}\n")
    (tmp_path / "memory" / "memory.usage_in_bytes").write_text(f"{32 * MIB}\n")
    assert import_budget(256 * MIB, tmp_path) == 96 * MIB // IMPORT_RSS_FACTOR
