"""Peak memory of an import: how many bytes of RSS one byte of export document costs.

    .venv/bin/python bench/import_memory.py [--patterns 100000]

Exports a processor of ``--patterns`` random patterns (bench/export.py's ``trained``) to a
file, then imports it in a fresh interpreter (``PUT /import``'s work: parse, validate, replace
the memory of a processor on a SQLite store) and prints the document size, that interpreter's
RSS before and at its peak, and their ratio: the figure behind the processor's import budget
(kato/services/import_budget.py, IMPORT_RSS_FACTOR).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

MIB = 2**20


def _import_peak(path: Path, data_dir: Path) -> tuple[int, int]:
    """(RSS before, peak RSS) in bytes of importing `path` (in this interpreter)."""
    from export import import_document  # noqa: PLC0415 (imported once measured from here)

    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the RSS now
    before = _status("VmRSS")
    import_document(path.read_bytes(), data_dir, 0)[1].close()
    return before, _status("VmHWM")


def _status(field: str) -> int:
    line = next(
        line
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith(field)
    )
    return int(line.split()[1]) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patterns", type=int, default=100_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        with tempfile.TemporaryDirectory() as tmp:
            print(*_import_peak(args.child, Path(tmp)))
        return
    from export import export_document, trained  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.ndjson"
        path.write_bytes(export_document(trained(args.patterns))[1])
        size = path.stat().st_size
        answer = subprocess.run(
            [sys.executable, __file__, "--child", str(path)], check=True, capture_output=True
        )
    before, peak = (int(value) for value in answer.stdout.split())
    print(
        f"patterns {args.patterns:,}  document {size / MIB:.1f} MiB  RSS before "
        f"{before / MIB:.0f} MiB  peak {peak / MIB:.0f} MiB  "
        f"{(peak - before) / size:.1f} bytes of RSS per byte of document"
    )


if __name__ == "__main__":
    main()
