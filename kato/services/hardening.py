"""The process forbids itself new privileges (`PR_SET_NO_NEW_PRIVS`) at start-up.

Docker applies `no-new-privileges` to a container from its security options; Swarm services on
Docker 20.10 have no such option, so the processor sets the flag itself. The flag only ever
tightens (no execve can gain privileges afterwards) and is inherited by every child, so setting
it where the engine already did is harmless.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

__all__ = ["forbid_new_privileges"]

_PR_SET_NO_NEW_PRIVS = 38

log = logging.getLogger("kato.services.hardening")


def forbid_new_privileges() -> bool:
    """Set NoNewPrivs on this process (Linux); False where the platform has no such flag."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_NO_NEW_PRIVS) failed: errno %d", ctypes.get_errno())
        return False
    return True
