"""What the benchmarks share: how samples are reported, and a real manager that cleans up.

The scripts run as `python bench/<name>.py`, so this module is imported by its bare name.
"""

from __future__ import annotations

import math
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from container_manager.testing import remove_labelled, run_label
from session_manager.routing.haproxy import stop_haproxy
from session_manager.testing import ManagerProcess


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile, without interpolation: a reported p99 is a measured value."""
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


@contextmanager
def running_manager(
    checkout: Path | None = None, **env: str
) -> Iterator[tuple[ManagerProcess, dict[str, str]]]:
    """A session manager subprocess on loopback with a throw-away state directory; with
    `checkout`, the code of that checkout (its directory first on `sys.path`, so its packages
    win over this one's: a baseline measured in the same run).

    Yields it with the run label its containers carry; on exit it is stopped and everything
    with that label is removed, and whatever could not be is printed.
    """
    labels = run_label()
    with tempfile.TemporaryDirectory() as tmp:
        manager = ManagerProcess(Path(tmp) / "state", labels, **env)
        if checkout is not None:
            code = f"import sys, runpy; sys.path.insert(0, {str(checkout)!r}); "
            code += "runpy.run_module('session_manager', run_name='__main__', alter_sys=True)"
            manager.command = [sys.executable, "-c", code]
        manager.start()
        try:
            yield manager, labels
        finally:
            manager.stop()
            stop_haproxy(manager.state_dir)  # KATO_ROUTER=haproxy: its HAProxy outlives it
            left = remove_labelled(labels)
            if left:
                print("left behind:", left)
