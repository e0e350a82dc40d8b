"""The webhook signature scheme, defined once: the manager signs with it, receivers verify.

`X-Kato-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`. Signing the
timestamp with the body lets a receiver refuse replays older than a tolerance; each delivery
attempt is signed afresh, so a retried event carries a current timestamp.

Standard library only, beside `kato.contract`: the manager (`session_manager.webhooks`) signs
and the client (`kato.client.verify_webhook`) verifies with this one module, and neither
imports the other.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "SignatureMismatch", "sign", "signature_header", "verify"]

SIGNATURE_HEADER = "X-Kato-Signature"
#: Longest header we parse; a real one is ~80 characters.
_MAX_HEADER = 1024


class SignatureMismatch(ValueError):
    """The header is missing, malformed, too old, or does not match the body and secret."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `"<timestamp>." + body` under `secret`."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The value of `X-Kato-Signature` for `body`, signed now unless `timestamp` is given."""
    when = int(time.time()) if timestamp is None else timestamp
    return f"t={when},v1={sign(secret, when, body)}"


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> int:
    """Check a delivery; return its signed timestamp or raise `SignatureMismatch`.

    `body` must be the raw request body (bytes as received, before any JSON parsing). A
    timestamp further than `tolerance` seconds from `now` is refused (replay protection).
    """
    if not header or len(header) > _MAX_HEADER:
        raise SignatureMismatch(f"missing or oversized {SIGNATURE_HEADER} header")
    parts = dict(part.strip().partition("=")[::2] for part in header.split(","))
    timestamp, given = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or not given:
        raise SignatureMismatch(f"malformed {SIGNATURE_HEADER} header")
    signed_at = int(timestamp)
    current = time.time() if now is None else now
    if abs(current - signed_at) > tolerance:
        raise SignatureMismatch("signature timestamp outside the tolerance (replay?)")
    if not hmac.compare_digest(sign(secret, signed_at, body), given):
        raise SignatureMismatch("signature does not match the body and secret")
    return signed_at
