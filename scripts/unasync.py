"""Write the sync client from the async one, by token substitution (httpcore's scripts/unasync.py).

    python scripts/unasync.py          # rewrite kato/client/_sync/ from kato/client/_async/
    python scripts/unasync.py --check  # exit 1 when a generated file is not current (make lint)

Only the async half is edited by hand; two hand-kept twins had drifted (docstrings first). Where
the halves must differ, a line of the async source may end in `# unasync: <sync line>`: the sync
file has `<sync line>` there, at the same indentation (`# unasync: drop` leaves the line out).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Every module of the first package is written, rewritten, to the second.
SOURCE, GENERATED = ROOT / "kato" / "client" / "_async", ROOT / "kato" / "client" / "_sync"

#: (pattern, replacement), applied in order to every line.
SUBSTITUTIONS: tuple[tuple[str, str], ...] = (
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    (r"\b__a(enter|exit|iter|next)__\b", r"__\1__"),
    (r"\ba(close|read|iter_bytes|iter_lines)\b", r"\1"),
    (r"\bimport asyncio\b", "import time"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\bwebsockets\.asyncio\b", "websockets.sync"),
    # AsyncKatoClient, AsyncSession, httpx.AsyncClient, AsyncIterator, AsyncBaseTransport, …
    (r"\bAsync(?=[A-Z])", ""),
)
DIRECTIVE = re.compile(r"^(?P<indent>\s*)(?P<code>.*?)\s*# unasync: (?P<sync>.*)$")
#: What must not survive the rewrite (a construct the substitutions do not know).
LEFTOVER = re.compile(r"\b(async|await|asyncio|Async\w*)\b")


def unasync_line(line: str) -> str | None:
    """The sync form of one line of async source (None: the line is left out)."""
    directive = DIRECTIVE.match(line)
    if directive:
        sync = directive["sync"].strip()
        return None if sync == "drop" else directive["indent"] + sync
    for pattern, replacement in SUBSTITUTIONS:
        line = re.sub(pattern, replacement, line)
    return line


def unasync(source: str, name: str) -> str:
    """The sync module of async `source` (read from file `name`)."""
    header = (
        f"# GENERATED from {name} by scripts/unasync.py: edit that file, then run\n"
        "# `python scripts/unasync.py` (make lint checks that this file is current).\n"
    )
    lines = [unasync_line(line) for line in source.splitlines()]
    generated = header + "\n".join(line for line in lines if line is not None) + "\n"
    for number, line in enumerate(generated.splitlines(), 1):
        if LEFTOVER.search(line.split("#", 1)[0]):
            raise ValueError(f"{name}: line {number} is still async after the rewrite: {line!r}")
    return generated


def targets(source: Path = SOURCE, generated: Path = GENERATED) -> dict[Path, str]:
    """Every generated file and the text it must hold."""
    return {
        generated / path.name: unasync(path.read_text(), f"{source.name}/{path.name}")
        for path in sorted(source.glob("*.py"))
    }


def main(argv: list[str], source: Path = SOURCE, generated: Path = GENERATED) -> int:
    check = "--check" in argv
    stale = []
    generated.mkdir(exist_ok=True)
    wanted = targets(source, generated)
    for path in sorted(set(generated.glob("*.py")) - set(wanted)):  # its source is gone
        stale.append(path.name)
        if not check:
            path.unlink()
    for path, text in wanted.items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path.name)
        if not check:
            path.write_text(text)
    if check and stale:
        names = ", ".join(stale)
        print(f"not current in {generated}: {names}; run scripts/unasync.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
