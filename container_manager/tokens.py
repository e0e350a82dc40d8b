"""Processor tokens derived from a per-manager key: HMAC-SHA256(key, processor id + salt).

A derived token never has to be stored or read back from the engine. That matters on Swarm,
where the token reaches the processor as a secret whose value the API never returns: after a
restart the manager recomputes every processor's token from its key and the container's
`kato.token_salt` label (random per launch, so every new container gets a fresh token; the
salt alone is worth nothing). The key is 32 random bytes made once in the state directory,
readable by the manager's user only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["TokenKey"]

_KEY_FILE = "processor-token.key"


class TokenKey:
    """The manager's token key, loaded from (or created in) its state directory."""

    def __init__(self, state_dir: Path) -> None:
        path = state_dir / _KEY_FILE
        state_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            self._key = path.read_bytes()
        else:
            self._key = secrets.token_bytes(32)
            with os.fdopen(fd, "wb") as file:
                file.write(self._key)
                file.flush()
                os.fsync(file.fileno())

    @staticmethod
    def new_salt() -> str:
        return secrets.token_hex(8)

    def token_for(self, processor_id: str, salt: str) -> str:
        message = f"{processor_id}:{salt}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
