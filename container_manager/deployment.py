"""The deployment identity: which containers and volumes on a shared engine are this manager's.

Several managers (session managers, `katoctl` in another directory, test runs) may share one
Docker engine. Each labels everything it creates with `kato.deployment=<id>` and only ever
lists, prunes or removes what carries its own id, so one never mistakes another's sessions
for orphans. The id is `KATO_DEPLOYMENT` when set; otherwise it is made once and kept in
`<state_dir>/deployment`, so a manager restarted on the same state directory (even after
`kill -9`) is the same deployment, and two state directories are two deployments.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from .errors import ConfigValidationError

__all__ = ["DEPLOYMENT_FILE", "DEPLOYMENT_PATTERN", "resolve_deployment", "validate_deployment"]

DEPLOYMENT_FILE = "deployment"
#: Label values and names stay safe: the id is shown in tables and used in label filters.
DEPLOYMENT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def validate_deployment(deployment: str) -> str:
    if not DEPLOYMENT_PATTERN.match(deployment):
        raise ConfigValidationError(
            "invalid deployment id: use 1-63 of a-z 0-9 _ . - starting with a letter or digit",
            {"deployment": deployment[:80]},
        )
    return deployment


def resolve_deployment(configured: str | None, state_dir: Path) -> str:
    """`configured` if given, else the id stored in `state_dir`, created on first use.

    Creation is atomic (written aside, then hard-linked into place), so two processes that
    start together on one state directory agree on a single id.
    """
    if configured:
        return validate_deployment(configured)
    path = state_dir / DEPLOYMENT_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        draft = state_dir / f".{DEPLOYMENT_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        draft.write_text(f"d-{secrets.token_hex(6)}\n")
        try:
            with contextlib.suppress(FileExistsError):  # someone else won the race: use theirs
                os.link(draft, path)
        finally:
            draft.unlink()
    return validate_deployment(path.read_text().strip())
