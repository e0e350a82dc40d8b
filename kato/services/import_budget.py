"""How large an import document this container can hold: refused (413) before it is read.

An import holds the parsed document, the new index and the old memory at once; measured with
``ExportReader`` + ``replace_memory`` on a SQLite store (30,000 bench patterns, a 7.7 MiB
document), its peak RSS grows by 19.2x the document's size (54 → 203 MiB). So a 512 MiB
container OOM-died on documents well inside ``KATO_MAX_IMPORT_BYTES`` (256 MiB). The budget is
the memory the cgroup has left (v2 ``memory.max - memory.current``, or v1's
``memory.limit_in_bytes - memory.usage_in_bytes``) over ``IMPORT_RSS_FACTOR``
(the measurement rounded up for headroom), never above the configured limit; with no cgroup
limit (a test run on a host) the configured limit alone applies.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["IMPORT_RSS_FACTOR", "import_budget"]

IMPORT_RSS_FACTOR = 24
_CGROUP = Path("/sys/fs/cgroup")


#: (limit, usage) files of cgroup v2, then of v1 (where "no limit" is a huge number).
_FILES = (
    ("memory.max", "memory.current"),
    ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
)


def import_budget(configured: int, cgroup: Path = _CGROUP) -> int:
    """The largest document (bytes) an import may read now in this container."""
    for limit_name, usage_name in _FILES:
        try:
            limit_text = (cgroup / limit_name).read_text().strip()
            used = int((cgroup / usage_name).read_text().strip())
        except (OSError, ValueError):
            continue
        if not limit_text.isdigit():  # "max": no limit
            return configured
        free = max(int(limit_text) - used, 0)
        return min(configured, free // IMPORT_RSS_FACTOR)
    return configured
