"""What the benchmarks share: how samples are reported, and a real manager that cleans up.

The scripts run as `python bench/<name>.py`, so this module is imported by its bare name.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
_P99 = re.compile(r"^\s*99(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_P50 = re.compile(r"^\s*50(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors:.*")


@dataclass(frozen=True)
class Run:
    """One wrk run: requests/s, p50 and p99 (seconds), answers not 2xx/3xx, and the serving
    process's CPU seconds per request (0 without one)."""

    rate: float
    p50: float
    p99: float
    refused: int
    cpu: float


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of process `pid` so far (Linux `/proc`); 0 without one."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(
    url: str,
    concurrency: int,
    seconds: float,
    headers: dict[str, str],
    *,
    pid: int | None = None,
    script: Path | None = None,
) -> Run:
    """`wrk -t1 -c<concurrency> -d<seconds>s --latency` on `url` (with a Lua `script`, which
    may choose each request's path); `pid`: the serving process whose CPU is counted. A
    socket error fails: a figure is only reported when every connection held."""
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    cpu_used, elapsed = cpu_seconds(pid) - cpu_before, time.monotonic() - started
    rate, p50, p99 = _RATE.search(out), _P50.search(out), _P99.search(out)
    refused = _NON_2XX.search(out)
    if rate is None or p50 is None or p99 is None or _SOCKET_ERRORS.search(out):
        raise RuntimeError(f"wrk against {url} did not measure cleanly:\n{out}")
    answered = float(rate.group(1)) * elapsed
    return Run(
        rate=float(rate.group(1)),
        p50=float(p50.group(1)) * _UNITS[p50.group(2)],
        p99=float(p99.group(1)) * _UNITS[p99.group(2)],
        refused=int(refused.group(1)) if refused else 0,
        cpu=cpu_used / answered if answered else 0.0,
    )
